package plan_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner/toolid"
)

// toolsRecipe has a component naming a tool, one requiring another (by
// name, on a PATH whose first entry is in the work dir) and one requiring
// a tool the chain built (a path in the work dir); host.tools names a
// fourth tool no step counts.
const toolsRecipe = `name: tools
host:
  tools: [hosttool]
env:
  PATH: ${{ work }}/install/bin:HOSTBIN
components:
  - name: uses
    tools: [mytool]
    steps:
      - name: one
        run: mytool
      - name: two
        run: mytool
  - name: checks
    requires:
      - tool: vertool
        version: ">= 1"
      - tool: ${{ components.uses.build }}/bin/built
        version: ">= 1"
    needs: [uses]
    steps:
      - name: one
        run: vertool
  - name: plain
    steps:
      - name: one
        run: "true"
`

// toolsFixture writes the recipe and the host tools it names into a temp
// dir and returns the recipe's path and the host bin dir.
func toolsFixture(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "hostbin")
	for _, tool := range []string{"mytool", "vertool", "hosttool"} {
		writeScript(t, filepath.Join(bin, tool), tool+" 1.0")
	}
	path := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(toolsRecipe, "HOSTBIN", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, bin
}

func writeScript(t *testing.T, path, version string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "#!/bin/sh\n[ \"$1\" = --version ] && echo '" + version + "'\nexit 0\n"
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// compileTools compiles the recipe at path with a real host tool resolver
// (nil: without one) and counts its lookups.
func compileTools(t *testing.T, path string, res *toolid.Resolver, calls *int) *plan.Plan {
	t.Helper()
	r, err := recipe.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := plan.Options{WorkDir: filepath.Join(filepath.Dir(path), "work"), Host: testHost(t), Jobs: 1}
	if res != nil {
		opts.ToolIdentity = func(tool string, env []string) (string, bool) {
			*calls++
			return res.Identify(context.Background(), tool, env)
		}
	}
	p, err := plan.Compile(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// toolKeys lists a step's "tool …" input keys.
func toolKeys(s *plan.Step) []string {
	var out []string
	for k := range s.Inputs {
		if strings.HasPrefix(k, plan.ToolInputPrefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestToolInputs(t *testing.T) {
	path, bin := toolsFixture(t)
	calls := 0
	p := compileTools(t, path, toolid.New(filepath.Join(filepath.Dir(path), "work"), ""), &calls)
	for _, tc := range []struct {
		step string
		keys []string
	}{
		{"uses:one", []string{"tool mytool"}},
		{"uses:two", []string{"tool mytool"}},
		// The built tool is the chain's: no input.
		{"checks:one", []string{"tool vertool"}},
		// host.tools count nowhere.
		{"plain:one", nil},
	} {
		s := p.Step(tc.step)
		if got := toolKeys(s); strings.Join(got, ",") != strings.Join(tc.keys, ",") {
			t.Errorf("%s: tool inputs %v, want %v", tc.step, got, tc.keys)
		}
	}
	want := filepath.Join(bin, "mytool") + " sha256:"
	if v := p.Step("uses:one").Inputs["tool mytool"]; !strings.HasPrefix(v, want) || !strings.HasSuffix(v, "\nmytool 1.0") {
		t.Errorf("tool mytool = %q, want %s… and its version line", v, want)
	}
	if got := p.Step("checks:one").Tools; len(got) != 2 || got[0] != "vertool" {
		t.Errorf("checks:one Tools = %v, want vertool and the built tool", got)
	}
	// One lookup per tool and PATH, not per step.
	if calls != 3 {
		t.Errorf("%d lookups, want 3 (mytool, vertool, the built tool)", calls)
	}

	without := compileTools(t, path, nil, nil)
	for _, s := range without.Steps {
		if k := toolKeys(s); len(k) > 0 {
			t.Errorf("without ToolIdentity %s has tool inputs %v", s.ID, k)
		}
	}
}

// TestToolChangeReruns changes one tool's binary and checks which
// signatures change: exactly the steps of the component naming it and
// what comes after them.
func TestToolChangeReruns(t *testing.T) {
	for _, tc := range []struct {
		tool    string
		changed []string
	}{
		{"mytool", []string{"checks:one", "uses:one", "uses:two"}},
		{"vertool", []string{"checks:one"}},
		{"hosttool", nil},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			path, bin := toolsFixture(t)
			work := filepath.Join(filepath.Dir(path), "work")
			n := 0
			before := sigs(compileTools(t, path, toolid.New(work, ""), &n))
			writeScript(t, filepath.Join(bin, tc.tool), tc.tool+" 2.0")
			after := sigs(compileTools(t, path, toolid.New(work, ""), &n))
			var got []string
			for id, sig := range after {
				if before[id] != sig {
					got = append(got, id)
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.changed, ",") {
				t.Errorf("changing %s changed %v, want %v", tc.tool, got, tc.changed)
			}
		})
	}
}
