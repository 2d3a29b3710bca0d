package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/runner/sandbox"
)

// TestHostMapsTheFixedPath: a sandboxed host's Output, LookPath and
// ReadFile, which run on the host itself (requires: checks), find what a
// step names below sandbox.WorkRoot in the real work dir, and LookPath
// answers as the step sees it; unsandboxed, the fixed path means nothing.
func TestHostMapsTheFixedPath(t *testing.T) {
	work := t.TempDir()
	bin := filepath.Join(work, "install", "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "tool"), []byte("#!/bin/sh\necho \"tool $1 $WHERE\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, "note"), []byte("note\n"), 0o644)
	fixed := sandbox.WorkRoot + "/install/bin"
	env := []string{"PATH=" + fixed + ":/usr/bin:/bin", "WHERE=" + sandbox.WorkRoot + "/note"}
	ctx := context.Background()

	h := Host{Sandbox: true, WorkDir: work}
	if p, err := h.LookPath(ctx, "tool", env); err != nil || p != fixed+"/tool" {
		t.Errorf("LookPath = %q, %v; want %s/tool", p, err, fixed)
	}
	out, err := h.Output(ctx, []string{fixed + "/tool", sandbox.WorkRoot + "/x"}, env)
	if want := "tool " + filepath.Join(work, "x") + " " + filepath.Join(work, "note") + "\n"; err != nil || string(out) != want {
		t.Errorf("Output = %q, %v; want %q", out, err, want)
	}
	if data, err := h.ReadFile(ctx, sandbox.WorkRoot+"/note"); err != nil || string(data) != "note\n" {
		t.Errorf("ReadFile = %q, %v", data, err)
	}

	open := Host{Sandbox: false, WorkDir: work}
	if p, err := open.LookPath(ctx, "tool", env); err == nil {
		t.Errorf("unsandboxed LookPath found %s below the fixed path", p)
	}
	if _, err := open.ReadFile(ctx, sandbox.WorkRoot+"/note"); err == nil || !strings.Contains(err.Error(), sandbox.WorkRoot) {
		t.Errorf("unsandboxed ReadFile of the fixed path: %v", err)
	}
}
