package treetest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	mk := func(t *testing.T, mode os.FileMode, body, link string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "f"), []byte(body), mode)
		os.Chmod(filepath.Join(dir, "f"), mode)
		os.Symlink(link, filepath.Join(dir, "l"))
		os.MkdirAll(filepath.Join(dir, ".pc/x"), 0o755)
		return dir
	}
	skipPC := Options{Skip: func(rel string) bool { return rel == ".pc" }}
	tests := []struct {
		name      string
		a, b      string
		opts      Options
		wantDiffs []string
	}{
		{"same", mk(t, 0o644, "x", "f"), mk(t, 0o644, "x", "f"), skipPC, nil},
		{"content", mk(t, 0o644, "x", "f"), mk(t, 0o644, "y", "f"), skipPC, []string{"differs: f"}},
		{"mode", mk(t, 0o644, "x", "f"), mk(t, 0o755, "x", "f"), skipPC, []string{"differs: f"}},
		{"link", mk(t, 0o644, "x", "f"), mk(t, 0o644, "x", "g"), skipPC, []string{"differs: l"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diffs := Diff(Describe(t, tt.a, tt.opts), Describe(t, tt.b, tt.opts))
			if len(diffs) != len(tt.wantDiffs) {
				t.Fatalf("diffs %q, want %q", diffs, tt.wantDiffs)
			}
			for i, d := range diffs {
				if !strings.HasPrefix(d, tt.wantDiffs[i]) {
					t.Errorf("diff %q, want one starting %q", d, tt.wantDiffs[i])
				}
			}
		})
	}
	// Missing and extra paths, and mtimes only when asked for.
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "only-a"), nil, 0o644)
	os.WriteFile(filepath.Join(b, "only-b"), nil, 0o644)
	if got := Diff(Describe(t, a, Options{}), Describe(t, b, Options{})); !slices.Equal(got, []string{"extra: only-b", "missing: only-a"}) {
		t.Errorf("diffs %q", got)
	}
	os.WriteFile(filepath.Join(a, "only-b"), nil, 0o644)
	os.Remove(filepath.Join(a, "only-a"))
	os.Chtimes(filepath.Join(a, "only-b"), time.Unix(1, 0), time.Unix(1, 0))
	if got := Diff(Describe(t, a, Options{}), Describe(t, b, Options{})); len(got) != 0 {
		t.Errorf("without MTimes: diffs %q", got)
	}
	if got := Diff(Describe(t, a, Options{MTimes: true}), Describe(t, b, Options{MTimes: true})); len(got) != 1 {
		t.Errorf("with MTimes: diffs %q, want one", got)
	}
}
