package patch

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// FuzzParse feeds arbitrary patch text through parsing and applying to a
// small tree. Any error is fine; a panic, a hang or a file written outside
// the tree is not.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		line8,
		"--- a/n.txt\n+++ b/n.txt\n@@ -1,2 +1,3 @@\n one\n-two\n\\ No newline at end of file\n+two\n+three\n\\ No newline at end of file\n",
		"diff --git a/x b/y\nsimilarity index 90%\nrename from a.txt\nrename to b.txt\n",
		"diff --git a/run b/run\nold mode 100644\nnew mode 100755\n",
		"--- /dev/null\n+++ b/../up\n@@ -0,0 +1 @@\n+x\n",
		"--- a/a.txt\n+++ b/a.txt\n@@ -99,1 +99,2 @@\n line 99\n+x\n",
		"--- a/a.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-line 1\n-line 2\n",
		"diff --git a/l b/l\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+sub/../../x\n\\ No newline at end of file\n",
		"diff --git a/x b/y\nsimilarity index 100%\ncopy from ../a.txt\ncopy to y\n",
		"*** a/a.txt\n--- b/a.txt\n***************\n*** 1 ****\n--- 1,2 ----\n  line 1\n+ x\n",
	} {
		f.Add([]byte(seed), uint8(1), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, strip, fuzz uint8) {
		dir := t.TempDir()
		tree := filepath.Join(dir, "tree")
		writeTree(t, tree, map[string]string{"a.txt": twenty, "n.txt": "one\ntwo", "sub/c.txt": "c\r\n"})
		pfile := filepath.Join(dir, "p.patch")
		if err := os.WriteFile(pfile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p := plan.Patch{File: pfile, Strip: int(strip % 4), Fuzz: int(fuzz % 4)}
		rec, err := Apply(context.Background(), tree, p, &bytes.Buffer{})
		if err == nil && rec == nil {
			t.Fatal("no record and no error")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 2 {
			t.Fatalf("something was written next to the tree: %v", ents)
		}
		// The tree starts without symlinks, so any there now came from the
		// patch, and each must point inside the tree (checked here
		// lexically, independently of the engine's own resolution).
		_ = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return err
			}
			target, _ := os.Readlink(p)
			rel, _ := filepath.Rel(tree, filepath.Join(filepath.Dir(p), target))
			if filepath.IsAbs(target) || !filepath.IsLocal(rel) && rel != "." {
				t.Fatalf("the patch left a symlink %s -> %s leading out of the tree", p, target)
			}
			return nil
		})
	})
}
