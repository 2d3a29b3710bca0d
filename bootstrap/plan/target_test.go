package plan_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// TestUnknownTarget checks that a target name not in the table is a
// *recipe.Error listing what the porter can choose from: the recipe's
// targets, or every known target when the recipe lists none.
func TestUnknownTarget(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"recipe with targets", "name: x\ntargets: [amd64, ppc64le]\ncomponents:\n  - {name: a, steps: [{name: s, run: 'true'}]}\n",
			`r.yaml:2:11: unknown target "sparc99": the recipe builds for amd64, ppc64le`},
		{"recipe without targets", "name: x\ncomponents:\n  - {name: a, steps: [{name: s, run: 'true'}]}\n",
			`r.yaml: unknown target "sparc99": the recipe lists no targets; known targets are amd64, 386, arm64, armhf, armel, ppc64le, s390x, riscv64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.yaml")
			r, err := recipe.Parse(path, []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			_, err = plan.Compile(r, plan.Options{WorkDir: "/work", Host: testHost(t), Target: "sparc99", Jobs: 1})
			var re *recipe.Error
			if !errors.As(err, &re) {
				t.Fatalf("err = %#v, want a *recipe.Error", err)
			}
			if got := re.Error(); got != filepath.Dir(path)+"/"+tt.want {
				t.Errorf("err = %q\nwant   %q", got, filepath.Dir(path)+"/"+tt.want)
			}
		})
	}
}
