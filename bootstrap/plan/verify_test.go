package plan_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
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

const independentRecipe = `name: two-paths
targets: [amd64, riscv64]
components:
  - name: cross
    steps:
      - name: make
        run: GOARCH=riscv64 ./make.bash -distpack CROSS
  - name: native
    needs: [cross]
    steps:
      - name: make
        run: ./make.bash -distpack
    verify:
      file: ${{ src }}/pkg/distpack/go.zip
      component: cross
      other: OTHER
`

// TestVerifyAgainstComponent compiles a verify: against another
// component's build: other: is relative to that component's build dir or
// expanded like file:, both artifacts are the step's outputs, the step
// waits for the native build (which waits for the cross one), and a change
// to the other component's build changes the verify step's signature.
func TestVerifyAgainstComponent(t *testing.T) {
	compile := func(t *testing.T, other, cross string) *plan.Plan {
		t.Helper()
		path := filepath.Join(t.TempDir(), "v.yaml")
		text := strings.NewReplacer("OTHER", other, "CROSS", cross).Replace(independentRecipe)
		os.WriteFile(path, []byte(text), 0o644)
		r, err := recipe.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		tgt, _ := arch.Lookup("riscv64")
		p, err := plan.Compile(r, plan.Options{WorkDir: "/w", Host: arch.Host{Target: tgt}, Target: "riscv64", Jobs: 1})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ other, want string }{
		{"pkg/distpack/go.zip", "/w/build/cross/pkg/distpack/go.zip"},
		{"${{ components.cross.src }}/pkg/distpack/go.zip", "/w/src/cross/pkg/distpack/go.zip"},
	} {
		p := compile(t, tc.other, "-v")
		st := p.Step("native:verify")
		if st == nil || !st.Verify.Independent() {
			t.Fatalf("%s: no verify step against cross: %+v", tc.other, st)
		}
		v := st.Verify
		if v.Component != "cross" || v.Other != tc.want || v.Reference != "component:cross "+tc.want || v.Module != "" || v.SHA256 != "" {
			t.Errorf("%s: verification %+v", tc.other, v)
		}
		if want := []string{"/w/src/native/pkg/distpack/go.zip", tc.want}; !slices.Equal(st.Outputs, want) {
			t.Errorf("%s: outputs %q, want %q", tc.other, st.Outputs, want)
		}
		if !slices.Equal(st.Deps, []string{"native:make"}) || !slices.Contains(p.Step("native:make").Deps, "cross:make") {
			t.Errorf("%s: native:verify waits for %v, native:make for %v", tc.other, st.Deps, p.Step("native:make").Deps)
		}
		if got := v.Describe(); got != "cross's independent build" {
			t.Errorf("Describe = %q", got)
		}
	}
	a := compile(t, "go.zip", "-v").Step("native:verify").Signature
	b := compile(t, "go.zip", "-x").Step("native:verify").Signature
	if a == b {
		t.Error("a change to the other component's build leaves the verify step's signature as it was")
	}
}
