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
			got, skipped, err := CompareTrees(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(skipped) != 0 {
				t.Errorf("skipped %q in a tree without a Go build cache", skipped)
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

// TestCompareTreesGoCache lays out two Go build caches as cmd/go does
// (README, trim.txt, <xx>/<id>-a and -d) whose action entries and trim
// times differ, as two real builds' do: they are skipped and counted, not
// listed. What does not fit the cache's layout is compared as usual, and a
// directory whose README is not Go's is no cache.
func TestCompareTreesGoCache(t *testing.T) {
	const id1 = "a3b85f98cd2c8485b91070a4e1740beb9b2812a895c9f9ebec5cb1fff1014e25"
	const id2 = "ddd9620099a208beaef1977269d2dee68d43255298db9caa2e8903f77ef87b29"
	readme := goCacheREADME + "\nRun \"go clean -cache\" if the directory is getting too large.\n"
	write := func(t *testing.T, root string, files map[string]string) {
		for name, data := range files {
			p := filepath.Join(root, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := map[string]string{"bin/tool": "ELF", "gocache/README": readme, "gocache/a3/" + id1 + "-a": "v1 … 1796583117263457678\n",
		"gocache/trim.txt": "1796583117\n", "notcache/README": "This directory holds other things.\n", "notcache/a3/" + id1 + "-a": "x"}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	write(t, a, base)
	write(t, b, base)
	write(t, b, map[string]string{
		"gocache/a3/" + id1 + "-a":  "v1 … 1796583118654364549\n", // written at another time
		"gocache/trim.txt":          "1796583999\n",
		"gocache/dd/" + id2 + "-d":  "an output only the rebuild made",
		"gocache/fuzz/corpus":       "not the cache's layout: compared",
		"notcache/a3/" + id1 + "-a": "y",
	})
	diffs, skipped, err := CompareTrees(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(a, "gocache/fuzz/corpus") + ": only in the rebuild",
		filepath.Join(a, "gocache/fuzz") + ": only in the rebuild",
		filepath.Join(a, "notcache/a3/"+id1+"-a") + ": sha256 ",
	}
	if len(diffs) != len(want) {
		t.Fatalf("differences %q, want %d: %q", diffs, len(want), want)
	}
	for i, w := range want {
		if !strings.HasPrefix(diffs[i], w) {
			t.Errorf("difference %d = %q, want it to start with %q", i, diffs[i], w)
		}
	}
	wantSkip := filepath.Join(a, "gocache") + ": not compared: Go build cache, 3 files (rebuilt: 4; 3 differ, as a cache's do)"
	if len(skipped) != 1 || skipped[0] != wantSkip {
		t.Errorf("skipped %q, want [%q]", skipped, wantSkip)
	}
}
