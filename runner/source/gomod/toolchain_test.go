package gomod

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestToolchainMode(t *testing.T) {
	tests := []struct {
		name string
		want fs.FileMode
	}{
		{"bin/go", 0o755},
		{"pkg/tool/linux_amd64/compile", 0o755},
		{"src/make.bash", 0o755},
		{"src/cmd/go/mkalldocs.sh", 0o755},
		{"src/regexp/syntax/make_perl_groups.pl", 0o755},
		{"src/make.rc", 0o755},
		{"lib/wasm/go_js_wasm_exec", 0o755},
		{"lib/wasm/go_wasip1_wasm_exec", 0o755},
		{"lib/wasm/wasm_exec.js", 0o644},
		{"src/cmd/go/main.go", 0o644},
		{"VERSION", 0o644},
		{"src/go_x_exec", 0o644}, // go_?*_?*_exec needs two non-empty parts
		{"binary/x", 0o644},
	}
	for _, tc := range tests {
		if got := ToolchainMode(tc.name); got != tc.want {
			t.Errorf("ToolchainMode(%q) = %o, want %o", tc.name, got, tc.want)
		}
	}
}

func TestToolchainName(t *testing.T) {
	for in, want := range map[string]string{
		"src/_go.mod":            "src/go.mod",
		"src/cmd/_go.mod":        "src/cmd/go.mod",
		"_go.mod":                "go.mod",
		"src/cmd/go/notgo.mod":   "src/cmd/go/notgo.mod",
		"src/x/__go.mod":         "src/x/__go.mod",
		"src/cmd/go/go.mod.txt":  "src/cmd/go/go.mod.txt",
		"src/internal/_go.mod/x": "src/internal/_go.mod/x",
	} {
		if got := ToolchainName(in); got != want {
			t.Errorf("ToolchainName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestToolchainModuleRestored unpacks a small toolchain-like module zip, as
// the proxy serves Go's releases, and checks that the tree has the modes
// and go.mod names a Go tree needs.
func TestToolchainModuleRestored(t *testing.T) {
	const ver = "v0.0.1-go1.99.1.linux-amd64"
	files := map[string]string{
		"VERSION":                  "go1.99.1\ntime 2026-01-01T00:00:00Z\n",
		"bin/go":                   "ELF",
		"pkg/tool/linux_amd64/vet": "ELF",
		"src/make.bash":            "#!/usr/bin/env bash\n",
		"src/_go.mod":              "module std\n",
		"src/cmd/_go.mod":          "module cmd\n",
		"src/cmd/go/main.go":       "package main\n",
		"lib/wasm/go_js_wasm_exec": "#!/bin/sh\n",
	}
	data, h1 := moduleZip(t, ToolchainModule, ver, files)
	ps := newProxy(t, map[string][]byte{ToolchainModule + "@" + ver: data})
	f := New(Options{CacheDir: t.TempDir(), Proxy: ps.URL})
	tree := t.TempDir()
	s := src(ToolchainModule, ver, h1)
	s.Dest = "go"
	if err := f.Fetch(context.Background(), s, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := f.Materialize(context.Background(), s, tree, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		"VERSION": 0o644, "bin/go": 0o755, "pkg/tool/linux_amd64/vet": 0o755, "src/make.bash": 0o755,
		"src/go.mod": 0o644, "src/cmd/go.mod": 0o644, "src/cmd/go/main.go": 0o644, "lib/wasm/go_js_wasm_exec": 0o755,
	}
	got := map[string]fs.FileMode{}
	root := filepath.Join(tree, "go")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fi, _ := d.Info()
			rel, _ := filepath.Rel(root, p)
			got[filepath.ToSlash(rel)] = fi.Mode().Perm()
		}
		return err
	})
	for name, mode := range want {
		if m, ok := got[name]; !ok || m != mode {
			t.Errorf("%s: mode %o (present %v), want %o", name, m, ok, mode)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tree holds %v, want exactly %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "src/cmd/go.mod")); string(b) != "module cmd\n" {
		t.Errorf("src/cmd/go.mod = %q", b)
	}
}
