package plan_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

const sandboxRecipe = `name: sb
components:
  - name: a
    steps:
      - name: make
        run: "true"
    outputs:
      - ${{ work }}/install/a
  - name: b
    needs: [a]
    steps:
      - name: make
        run: "true"
  - name: c
    needs: [b]
    steps:
      - name: net
        network: true
        reason: fetches
        run: "true"
      - name: root
        privileged: true
        reason: starts dockerd
        run: "true"
`

// TestSandboxSees: a run step may read the trees and outputs of what its
// component needs, transitively, and nothing of a component it does not
// need.
func TestSandboxSees(t *testing.T) {
	p := compile(t, sandboxRecipe, 1)
	for _, tc := range []struct {
		step string
		want []string
	}{
		{"a:make", nil},
		{"b:make", []string{"/work/src/a", "/work/build/a", "/work/install/a"}},
		{"c:net", []string{"/work/src/b", "/work/build/b", "/work/src/a", "/work/build/a", "/work/install/a"}},
	} {
		if got := p.Step(tc.step).Sees; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s sees %v, want %v", tc.step, got, tc.want)
		}
	}
}

// TestSandboxExceptions: network: and privileged: are signature inputs and
// notes; the reason is neither an input nor allowed alone.
func TestSandboxExceptions(t *testing.T) {
	p := compile(t, sandboxRecipe, 1)
	for _, tc := range []struct {
		step, key, note string
	}{
		{"c:net", "sandbox.network", "network: fetches"},
		{"c:root", "sandbox.privileged", "privileged: starts dockerd"},
	} {
		s := p.Step(tc.step)
		if s.Inputs[tc.key] != "true" {
			t.Errorf("%s: input %s = %q, want true", tc.step, tc.key, s.Inputs[tc.key])
		}
		s.Inputs["sandbox"] = "v1" // what the executor adds
		if got := s.SandboxNote(); got != tc.note {
			t.Errorf("%s: note %q, want %q", tc.step, got, tc.note)
		}
	}
	if got := p.Step("b:make").SandboxNote(); got != "no sandbox" {
		t.Errorf("a step without the executor's sandbox input: note %q, want \"no sandbox\"", got)
	}
	// Rewording the reason changes no signature.
	q := compile(t, strings.Replace(sandboxRecipe, "reason: fetches", "reason: downloads", 1), 1)
	if p.Step("c:net").Signature != q.Step("c:net").Signature {
		t.Error("changing reason: changed the signature")
	}

	for _, bad := range []struct{ text, want string }{
		{strings.Replace(sandboxRecipe, "        reason: fetches\n", "", 1), "needs a reason"},
		{strings.Replace(sandboxRecipe, "        network: true\n", "", 1), "reason: is for a step with"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.yaml")
		if err := os.WriteFile(path, []byte(bad.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := recipe.Load(path); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("load: %v, want an error containing %q", err, bad.want)
		}
	}
}
