package remote

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/porterkit/bootstrap/runner"
)

// TestBundle packs a recipe that extends a base in another directory and
// has a patch outside both: the bundle is rooted where all of them meet
// and keeps their relative places.
func TestBundle(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base/base.yaml", "name: base\ncomponents:\n  - name: a\n    source:\n      url: http://127.0.0.1:9/a.tgz\n      sha256: "+
		"0000000000000000000000000000000000000000000000000000000000000000\n    patches:\n      - file: ../patches/a.patch\n    steps:\n      - name: s\n        run: true\n")
	write("patches/a.patch", "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
	write("recipes/r.yaml", "name: r\nextends: ../base/base.yaml\n")
	// A relative recipe path gives relative patch paths in the plan.
	t.Chdir(dir)
	s, err := runner.Open(context.Background(), runner.Config{Recipe: "recipes/r.yaml", Target: "amd64", Cache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := NewBundle("recipes/r.yaml", s.Plan())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"base/base.yaml", "patches/a.patch", "recipes/r.yaml"}
	if b.Root != dir || b.Recipe != "recipes/r.yaml" || !reflect.DeepEqual(b.Files, want) {
		t.Errorf("bundle root %s recipe %s files %v; want %s, recipes/r.yaml, %v", b.Root, b.Recipe, b.Files, dir, want)
	}
	if _, err := b.Tar(); err != nil {
		t.Error(err)
	}
}
