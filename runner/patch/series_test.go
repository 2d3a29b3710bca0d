package patch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// TestApplySeries applies a quilt series whose lines mix -p0 and -p1 (and
// the default from the recipe entry), with comments and blank lines.
func TestApplySeries(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "src")
	writeTree(t, tree, map[string]string{"a.txt": twenty, "lib/b.txt": "b\n"})
	pdir := filepath.Join(dir, "debian", "patches")
	writeTree(t, pdir, map[string]string{
		"series":              "# Debian-style series\n0001-line8.patch\n\nfixes/0002-p0.patch -p0   # made with diff -u\n0003-p2.patch -p2\n0004-p1.patch -p1\n",
		"0001-line8.patch":    "Description: line 8\n\n" + line8,
		"fixes/0002-p0.patch": "--- lib/b.txt.orig\n+++ lib/b.txt\n@@ -1 +1,2 @@\n b\n+c\n",
		"0003-p2.patch":       "--- x/y/lib/b.txt\n+++ x/y/lib/b.txt\n@@ -1,2 +1,3 @@\n b\n c\n+d\n",
		"0004-p1.patch":       "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+new\n",
	})
	var log bytes.Buffer
	rec, err := Apply(context.Background(), tree, plan.Patch{Series: filepath.Join(pdir, "series"), Strip: 1}, &log)
	if err != nil {
		t.Fatalf("Apply: %v\nlog:\n%s", err, log.String())
	}
	got, _ := readTree(t, tree)
	want := map[string]string{"a.txt": numbered(20, map[int]string{8: "LINE 8\n"}), "lib/b.txt": "b\nc\nd\n", "new.txt": "new\n"}
	if !equalMaps(got, want) {
		t.Errorf("tree = %q, want %q", got, want)
	}
	var strips []int
	for _, p := range rec.Patches {
		strips = append(strips, p.Strip)
	}
	if len(strips) != 4 || strips[0] != 1 || strips[1] != 0 || strips[2] != 2 || strips[3] != 1 {
		t.Errorf("strip levels = %v, want [1 0 2 1]", strips)
	}
	for _, w := range []string{
		"fixes/0002-p0.patch (-p0)\n  lib/b.txt: modify\n    hunk #1 @@ -1 +1,2 @@ applied at line 1, offset +0, fuzz 0\n",
		"  new.txt: create (mode 100644)\n",
	} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, log.String())
		}
	}
}

func TestApplySeriesErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"series": "a.patch\nb.patch -R\n"})
	_, err := Apply(context.Background(), dir, plan.Patch{Series: filepath.Join(dir, "series"), Strip: 1}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "series") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error = %v, want one naming the series file and line 2", err)
	}
}

// TestNoWriteThroughSymlink checks that a symlink in the tree pointing out
// of it cannot be used to write outside the tree.
func TestNoWriteThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, tree, map[string]string{"escape": "-> " + outside})
	pfile := filepath.Join(dir, "p.patch")
	writeTree(t, dir, map[string]string{"p.patch": "--- /dev/null\n+++ b/escape/pwned\n@@ -0,0 +1 @@\n+x\n"})
	_, err := Apply(context.Background(), tree, plan.Patch{File: pfile, Strip: 1}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("Apply wrote through a symlink leading out of the tree")
	}
	if _, serr := os.Stat(filepath.Join(outside, "pwned")); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("file created outside the tree (err %v)", err)
	}
}

func TestApplyCanceled(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": twenty, "p.patch": line8})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, dir, plan.Patch{File: filepath.Join(dir, "p.patch"), Strip: 1}, &bytes.Buffer{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}
