package source

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

func TestDirMaterialize(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("sub/run.sh", filepath.Join(src, "link"))
	sum, err := treehash.Sum(src)
	if err != nil {
		t.Fatal(err)
	}
	s := plan.Source{Kind: "dir", Dir: src, Identity: "dir:" + sum}
	var log bytes.Buffer
	if err := (Dir{}).Fetch(context.Background(), s, &log); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	if err := (Dir{}).Materialize(context.Background(), s, dest, &log); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "sub", "run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("copied script: %v, %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(dest, "link")); err != nil || target != "sub/run.sh" {
		t.Errorf("symlink: %q, %v", target, err)
	}

	// A tree that changed after the plan was made must not be built under
	// the old identity.
	os.WriteFile(filepath.Join(src, "new"), nil, 0o644)
	err = (Dir{}).Materialize(context.Background(), s, t.TempDir(), &log)
	if err == nil || !strings.Contains(err.Error(), "changed while bootstrap was running") {
		t.Errorf("err = %v", err)
	}
	if err := (Dir{}).Fetch(context.Background(), plan.Source{Kind: "dir", Dir: filepath.Join(src, "nope")}, &log); err == nil {
		t.Error("no error for a missing dir")
	}
}

func TestSetFor(t *testing.T) {
	if _, err := (Set{"dir": Dir{}}).For(plan.Source{Kind: "hg"}); err == nil || !strings.Contains(err.Error(), `"hg"`) {
		t.Errorf("err = %v", err)
	}
}
