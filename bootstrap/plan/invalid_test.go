package plan_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testHost is an amd64 host, so that tests do not depend on the machine.
func testHost(t testing.TB) arch.Host {
	tgt, ok := arch.Lookup("amd64")
	if !ok {
		t.Fatal("no amd64 in the target table")
	}
	return arch.Host{Target: tgt}
}

// load loads and compiles a recipe the way `bootstrap validate` does.
func load(t testing.TB, path string) (*plan.Plan, error) {
	r, err := recipe.Load(path)
	if err != nil {
		return nil, err
	}
	return plan.Compile(r, plan.Options{WorkDir: "/work", Host: testHost(t), Jobs: 2,
		Getenv: func(k string) (string, bool) { return "", false }})
}

// TestInvalidRecipes checks each recipe under testdata/invalid against its
// golden file: the exact errors, with file:line:col. Run with -update to
// rewrite the golden files after reviewing a change.
func TestInvalidRecipes(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) < 20 {
		t.Fatalf("want at least 20 invalid recipes, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, err := load(t, f)
			if err == nil {
				t.Fatal("the recipe loaded without error")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n got: %s\nwant: %s", golden, got, want)
			}
			if !strings.HasPrefix(got, f+":") {
				t.Errorf("the first error does not start with %s:line:col: %s", f, got)
			}
		})
	}
}
