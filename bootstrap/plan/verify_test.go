package plan_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

const verifyRecipe = `name: v
targets: [amd64, arm64]
components:
  - name: go
    source:
      gomod: golang.org/toolchain@v0.0.1-go1.21.13.linux-amd64
      h1: h1:THKeCuuOK6mnQhbTbvvH9CKU3D4lwUERQax+yRXCVJk=
    steps:
      - name: make
        run: ./make.bash -distpack
    verify:
      file: ${{ src }}/pkg/distpack/v0.0.1-go1.21.13.linux-${{ target.goarch }}.zip
      gomod: golang.org/toolchain@v0.0.1-go1.21.13.linux-${{ target.goarch }}
      h1:
        amd64: h1:THKeCuuOK6mnQhbTbvvH9CKU3D4lwUERQax+yRXCVJk=
      skip: no official arm64 module pinned
  - name: next
    needs: [go]
    steps:
      - name: use
        run: "true"
`

// TestVerifyPerTarget compiles one recipe for two targets: the one its h1
// mapping lists gets a verify step that later components wait for; the
// other gets none, and the skip: reason.
func TestVerifyPerTarget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.yaml")
	os.WriteFile(path, []byte(verifyRecipe), 0o644)
	r, err := recipe.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target, wantDep, wantSkip string
	}{
		{"amd64", "go:verify", ""},
		{"arm64", "go:make", "no official arm64 module pinned"},
	} {
		tgt, _ := arch.Lookup(tc.target)
		p, err := plan.Compile(r, plan.Options{WorkDir: "/w", Host: arch.Host{Target: tgt}, Target: tc.target, Jobs: 1})
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		if got := p.Step("next:use").Deps; len(got) != 1 || got[0] != tc.wantDep {
			t.Errorf("%s: next:use waits for %v, want %s", tc.target, got, tc.wantDep)
		}
		if got := p.VerifySkipped(r.Components[0]); got != tc.wantSkip {
			t.Errorf("%s: VerifySkipped = %q, want %q", tc.target, got, tc.wantSkip)
		}
		v := p.Step("go:verify")
		if tc.wantSkip != "" {
			if v != nil {
				t.Errorf("%s: a verify step without a pin", tc.target)
			}
			continue
		}
		if v == nil || v.Verify.Version != "v0.0.1-go1.21.13.linux-amd64" || v.Verify.File != "/w/src/go/pkg/distpack/v0.0.1-go1.21.13.linux-amd64.zip" ||
			v.Inputs["verify.reference"] != "gomod:golang.org/toolchain@v0.0.1-go1.21.13.linux-amd64 h1:THKeCuuOK6mnQhbTbvvH9CKU3D4lwUERQax+yRXCVJk=" {
			t.Errorf("%s: verify step %+v", tc.target, v)
		}
		if src := p.Step("go:fetch").Sources[0]; src.Identity != "gomod:golang.org/toolchain@v0.0.1-go1.21.13.linux-amd64 h1:THKeCuuOK6mnQhbTbvvH9CKU3D4lwUERQax+yRXCVJk=" {
			t.Errorf("%s: source identity %q", tc.target, src.Identity)
		}
	}
}
