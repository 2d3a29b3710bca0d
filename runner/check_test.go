package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareTrees changes one thing at a time in a copy of a tree: each
// difference is named once, with its path in the first tree.
func TestCompareTrees(t *testing.T) {
	mk := func(t *testing.T, dir string) {
		t.Helper()
		os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
		os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("same\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "x"), []byte("x\n"), 0o755)
		os.Symlink("sub/f", filepath.Join(dir, "l"))
	}
	for _, tc := range []struct {
		name   string
		change func(b string)
		want   string // "" means bit-identical
	}{
		{"identical", func(string) {}, ""},
		{"content", func(b string) { os.WriteFile(filepath.Join(b, "sub", "f"), []byte("other\n"), 0o644) }, "sub/f: sha256 "},
		{"mode", func(b string) { os.Chmod(filepath.Join(b, "x"), 0o644) }, "x: mode "},
		{"symlink", func(b string) { os.Remove(filepath.Join(b, "l")); os.Symlink("x", filepath.Join(b, "l")) }, "l: symlink to sub/f, rebuilt to x"},
		{"missing", func(b string) { os.Remove(filepath.Join(b, "x")) }, "x: missing from the rebuild"},
		{"extra", func(b string) { os.WriteFile(filepath.Join(b, "new"), nil, 0o644) }, "new: only in the rebuild"},
		{"type", func(b string) { os.Remove(filepath.Join(b, "x")); os.Mkdir(filepath.Join(b, "x"), 0o755) }, "x: type f, rebuilt d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			mk(t, a)
			mk(t, b)
			tc.change(b)
			got, err := CompareTrees(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(got) != 0 {
					t.Errorf("identical trees differ: %v", got)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], a+"/") || !strings.Contains(got[0], tc.want) {
				t.Errorf("got %q, want one difference in %s containing %q", got, a, tc.want)
			}
		})
	}
}
