package recipe_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// FuzzLoad feeds arbitrary bytes to the loader and the compiler: whatever
// the input, they must return a recipe or errors, never panic, and every
// error must carry a position.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../plan/testdata/*/*.yaml")
	more, _ := filepath.Glob("../../recipes/*.yaml")
	for _, s := range append(seeds, more...) {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("name: x\ncomponents: [{name: a, steps: [{name: s, run: 'echo ${{ work }}'}]}]\n"))
	amd64, _ := arch.Lookup("amd64")
	host := arch.Host{Target: amd64}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := recipe.Parse("fuzz.yaml", data)
		if err != nil {
			list, ok := err.(recipe.ErrorList)
			if !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			for _, e := range list {
				if e.Pos.File != "fuzz.yaml" || e.Pos.Line < 1 {
					t.Fatalf("error without a position: %v", e)
				}
			}
			return
		}
		_, _ = plan.Compile(r, plan.Options{WorkDir: "/w", Host: host, Jobs: 1, SkipContentHashes: true,
			Getenv: func(string) (string, bool) { return "v", true }})
	})
}
