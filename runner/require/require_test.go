package require

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out, raw, semver, compiler string
	}{
		{"go version go1.19.8 linux/amd64\n", "go1.19.8", "1.19.8", "gc"},
		{"go version go1.18 gccgo (Debian 12.2.0-14) 12.2.0 linux/amd64\n", "go1.18", "1.18.0", "gccgo"},
		{"go version go1.4-bootstrap-20171003 linux/amd64\n", "go1.4", "1.4.0", "gc"},
		{"go version go1.22rc1 linux/arm64\n", "go1.22rc1", "1.22.0-rc.1", "gc"},
		{"go version devel go1.23-3f8f929d60 Tue Jan 2 10:00:00 2024 +0000 linux/ppc64le\n", "go1.23", "1.23.0-devel", "gc"},
		{"go version go1 linux/386\n", "go1", "1.0.0", "gc"},
		{"gcc (Debian 12.2.0-14) 12.2.0\nCopyright (C) 2022 Free Software Foundation, Inc.\n", "12.2.0", "12.2.0", ""},
		{"gcc (GCC) 4.8.5 20150623 (Red Hat 4.8.5-44)\n", "4.8.5", "4.8.5", ""},
		{"git version 2.39.5\n", "2.39.5", "2.39.5", ""},
		{"GNU Make 4.3\nBuilt for x86_64-pc-linux-gnu\n", "4.3", "4.3.0", ""},
		{"Some Tool\nrelease 7.1 (build 9)\n", "7.1", "7.1.0", ""},
	}
	for _, tt := range tests {
		tv, err := ParseVersion(tt.out)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tt.out, err)
			continue
		}
		if tv.Raw != tt.raw || tv.Version.String() != tt.semver || tv.Compiler != tt.compiler {
			t.Errorf("ParseVersion(%q) = %q %s %q; want %q %s %q", tt.out, tv.Raw, tv.Version, tv.Compiler, tt.raw, tt.semver, tt.compiler)
		}
	}
	if _, err := ParseVersion("no numbers here\n"); err == nil {
		t.Error("output without a version accepted")
	}
}

// fakeGo writes a shell script that prints a real `go version` line, the
// way a go command installed at dir/bin/go would.
func fakeGo(t *testing.T, line string) (goroot, tool string) {
	t.Helper()
	goroot = t.TempDir()
	tool = filepath.Join(goroot, "bin", "go")
	if err := os.MkdirAll(filepath.Dir(tool), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n[ \"$1\" = version ] || exit 2\necho '" + line + "'\n"
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return goroot, tool
}

// minimalTree lays out a Go source tree with the real file names and the
// real package clause of Go 1.22's cmd/dist.
func minimalTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"VERSION":                  "go1.22.12\ntime 2025-02-04T19:34:18Z\n",
		"src/make.bash":            "#!/usr/bin/env bash\n# GOROOT_BOOTSTRAP: A working Go tree >= Go 1.20.6 for bootstrap.\nbootgo=1.20.6\n",
		"src/cmd/dist/notgo120.go": "//go:build !go1.20\n\npackage building_Go_requires_Go_1_20_6_or_later\n",
		"src/cmd/dist/build.go":    "package main\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestGoSourceTooOld(t *testing.T) {
	goroot, tool := fakeGo(t, "go version go1.19.8 linux/amd64")
	env := []string{"PATH=/usr/bin:/bin", "GOROOT_BOOTSTRAP=" + goroot}
	r := plan.Requirement{Tool: tool, Constraint: GoSource, SrcDir: minimalTree(t), Pos: recipe.Pos{File: "r.yaml", Line: 9, Col: 7}}
	err := Check(context.Background(), r, env, nil)
	var ue *UnmetError
	if !errors.As(err, &ue) {
		t.Fatalf("Check = %v; want *UnmetError", err)
	}
	want := "go 1.22.12 needs Go ≥ 1.20.6 to build (src/cmd/dist/notgo120.go); $GOROOT_BOOTSTRAP/bin/go is go1.19.8"
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
}

func TestGoSourceGccgoOldTree(t *testing.T) {
	// Go ≤ 1.19 needs Go 1.4, which gccgo's go1.18 satisfies.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "VERSION"), []byte("go1.19.8"), 0o644)
	os.WriteFile(filepath.Join(dir, "src", "make.bash"), []byte("# GOROOT_BOOTSTRAP: A working Go tree >= Go 1.4 for bootstrap.\n"), 0o644)
	_, tool := fakeGo(t, "go version go1.18 gccgo (Debian 12.2.0-14) 12.2.0 linux/amd64")
	r := plan.Requirement{Tool: tool, Constraint: GoSource, SrcDir: dir}
	if err := Check(context.Background(), r, nil, nil); err != nil {
		t.Error(err)
	}
	m, err := GoSourceMinimum(dir)
	if err != nil || m.Version.Original() != "1.4" || m.From != "src/make.bash" {
		t.Errorf("GoSourceMinimum = %+v, %v", m, err)
	}
	if _, err := GoSourceMinimum(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a Go source tree") {
		t.Errorf("empty dir: %v", err)
	}
}

// TestGoSourceMakeBashWordings: the minimum as each era's make.bash
// states it.
func TestGoSourceMakeBashWordings(t *testing.T) {
	for _, tt := range []struct {
		name, makeBash, want string
	}{
		{"header (Go 1.19)", "# GOROOT_BOOTSTRAP: A working Go tree >= Go 1.4 for bootstrap.\n", "1.4"},
		{"error only (Go 1.6, going by what its all.bash prints)", "if [ ! -x \"$GOROOT_BOOTSTRAP/bin/go\" ]; then\n\techo \"Set \\$GOROOT_BOOTSTRAP to a working Go tree >= Go 1.4.\" >&2\n", "1.4"},
		{"header and $bootgo error (Go 1.20 on)", "# GOROOT_BOOTSTRAP: A working Go tree >= Go 1.20.6 for bootstrap.\n\techo \"Set \\$GOROOT_BOOTSTRAP to a working Go tree >= Go $bootgo.\" >&2\n", "1.20.6"},
		{"neither", "#!/bin/sh\necho \"Set GOROOT_BOOTSTRAP to a working Go tree >= Go $bootgo.\"\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "src", "make.bash"), []byte(tt.makeBash), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := GoSourceMinimum(dir)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "no \"GOROOT_BOOTSTRAP") {
					t.Errorf("GoSourceMinimum = %+v, %v; want an error", m, err)
				}
				return
			}
			if err != nil || m.Version.Original() != tt.want || m.From != "src/make.bash" {
				t.Errorf("GoSourceMinimum = %+v, %v; want %s from src/make.bash", m, err, tt.want)
			}
		})
	}
}

// TestGoSourceRealTrees reads the bootstrap minimum from real Go release
// trees where this machine has them: toolchain modules in the module cache
// (go mod download golang.org/toolchain@v0.0.1-go1.22.12.linux-amd64) and
// Debian's golang-1.19 orig tarball, unpacked.
func TestGoSourceRealTrees(t *testing.T) {
	want := map[string]string{
		"1.21.13": "1.17.13 src/cmd/dist/notgo117.go",
		"1.22.12": "1.20.6 src/cmd/dist/notgo120.go",
		"1.24.0":  "1.22.6 src/cmd/dist/notgo122.go",
	}
	modcache := goEnv(t, "GOMODCACHE")
	found := 0
	for v, w := range want {
		dir := filepath.Join(modcache, "golang.org", "toolchain@v0.0.1-go"+v+".linux-amd64")
		if _, err := os.Stat(filepath.Join(dir, "src", "make.bash")); err != nil {
			continue
		}
		found++
		m, err := GoSourceMinimum(dir)
		if err != nil {
			t.Errorf("go%s: %v", v, err)
			continue
		}
		if got := m.Version.Original() + " " + m.From; got != w || m.Tree != "go"+v {
			t.Errorf("go%s: %s (tree %s); want %s", v, got, m.Tree, w)
		}
		if v == "1.22.12" {
			goroot, tool := fakeGo(t, "go version go1.19.8 linux/amd64")
			r := plan.Requirement{Tool: tool, Constraint: GoSource, SrcDir: dir}
			err := Check(context.Background(), r, []string{"GOROOT_BOOTSTRAP=" + goroot}, nil)
			if err == nil || err.Error() != "go 1.22.12 needs Go ≥ 1.20.6 to build (src/cmd/dist/notgo120.go); $GOROOT_BOOTSTRAP/bin/go is go1.19.8" {
				t.Errorf("real go1.22.12 tree with go1.19.8: %v", err)
			}
		}
	}
	const orig = "/var/cache/bootstrap-debsrc/golang-1.19_1.19.8.orig.tar.gz"
	if _, err := os.Stat(orig); err == nil {
		dir := t.TempDir()
		tar := exec.Command("tar", "-xzf", orig, "-C", dir, "go/VERSION", "go/src/make.bash", "go/src/cmd/dist")
		if out, err := tar.CombinedOutput(); err != nil {
			t.Fatalf("unpack %s: %v\n%s", orig, err, out)
		}
		m, err := GoSourceMinimum(filepath.Join(dir, "go"))
		if err != nil || m.Version.Original() != "1.4" || m.Tree != "go1.19.8" {
			t.Errorf("go1.19.8: %+v, %v", m, err)
		}
		found++
	}
	if found == 0 {
		t.Skip("no real Go source tree on this machine")
	}
	t.Logf("checked %d real trees", found)
}

// TestRealGoAgainstTree checks the go running these tests against the
// minimal 1.22 tree: any Go new enough to build this module passes.
func TestRealGoAgainstTree(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on PATH")
	}
	// No HOME: go version needs none, and with one a go of 1.23 or later
	// counts telemetry there and starts a detached uploader, which may
	// still be writing when a t.TempDir HOME is removed.
	env := []string{"PATH=" + filepath.Dir(gobin) + ":/usr/bin:/bin"}
	r := plan.Requirement{Tool: "go", Constraint: GoSource, SrcDir: minimalTree(t)}
	if err := Check(context.Background(), r, env, nil); err != nil {
		t.Error(err)
	}
	r.Constraint = "< 1.20"
	var ue *UnmetError
	if err := Check(context.Background(), r, env, nil); !errors.As(err, &ue) || !strings.Contains(err.Error(), "go must be < 1.20") {
		t.Errorf("go < 1.20: %v", err)
	}
}

func TestCheckErrors(t *testing.T) {
	ctx := context.Background()
	if err := Check(ctx, plan.Requirement{Tool: "no-such-tool-xyz", Constraint: ">= 1"}, []string{"PATH=/usr/bin:/bin"}, nil); err == nil || !strings.Contains(err.Error(), "not found on PATH=/usr/bin:/bin") {
		t.Errorf("missing tool: %v", err)
	}
	_, tool := fakeGo(t, "go version go1.19.8 linux/amd64")
	if err := Check(ctx, plan.Requirement{Tool: tool, Constraint: ">= banana"}, nil, nil); err == nil || !strings.Contains(err.Error(), "bad version constraint") {
		t.Errorf("bad constraint: %v", err)
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Skipf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// TestGccgoUnknownVersion: Debian's gccgo-12 go tool prints "go version
// unknown"; its Go level must come from libgo.
func TestGccgoUnknownVersion(t *testing.T) {
	if _, err := os.Stat("/usr/bin/go-12"); err != nil {
		t.Skip("gccgo-12's go tool is not installed (apt-get install gccgo-12)")
	}
	tv, err := Version(context.Background(), "/usr/bin/go-12", os.Environ(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tv.Go || tv.Compiler != "gccgo" || tv.Raw != "go1.18" || !strings.Contains(tv.Line, "libgo") {
		t.Errorf("version %+v", tv)
	}
}
