package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// TestMapPath: a path at or below from moves below to; any other path,
// one that only shares a prefix of its name included, stays.
func TestMapPath(t *testing.T) {
	for _, tc := range []struct{ path, from, to, want string }{
		{"/w/src/go", "/w", "/mnt/bootstrap", "/mnt/bootstrap/src/go"},
		{"/w", "/w", "/mnt/bootstrap", "/mnt/bootstrap"},
		{"/w/", "/w", "/mnt/bootstrap", "/mnt/bootstrap"},
		{"/work/x", "/w", "/mnt/bootstrap", "/work/x"},
		{"/usr/bin", "/w", "/mnt/bootstrap", "/usr/bin"},
		{"/mnt/bootstrap/install/go", "/mnt/bootstrap", "/a b/w", "/a b/w/install/go"},
		{"/w/x", "/w", "", "/w/x"},
		{"/w/./x/../y", "/w", "/r", "/r/y"},
	} {
		if got := plan.MapPath(tc.path, tc.from, tc.to); got != tc.want {
			t.Errorf("MapPath(%q, %q, %q) = %q, want %q", tc.path, tc.from, tc.to, got, tc.want)
		}
	}
}

// rootRecipe uses every built-in path in every place a step names one,
// and in every place bootstrap reads one.
const rootRecipe = `name: root
vars:
  prefix: ${{ work }}/install
env:
  PATH: ${{ prefix }}/bin:/usr/bin:/bin
components:
  - name: a
    source:
      dir: tree
    patches:
      - file: fix.patch
      - series: ${{ src }}/debian/series
    tools: [sh, "${{ prefix }}/bin/own-tool"]
    requires:
      - tool: ${{ components.a.build }}/bin/a
        version: ">= 1"
    steps:
      - name: s
        dir: ${{ src }}/sub
        env:
          WHERE: ${{ work }}:${{ build }}
        run: echo ${{ src }} ${{ prefix }} > ${{ build }}/x
    outputs: ["${{ prefix }}/a", out]
    verify:
      file: out/a.zip
      sha256: 0000000000000000000000000000000000000000000000000000000000000000
`

// TestRootIsWhatStepsSee: with Root set, what a step runs names Root and
// its signature is the same for any work dir; what bootstrap reads
// (trees, outputs, patches, dir sources, verify: file) is below the real
// work dir; tool identities are looked up at real paths; without Root
// (--no-sandbox) the work dir's own path is in the signature.
func TestRootIsWhatStepsSee(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tree"), 0o755)
	os.WriteFile(filepath.Join(dir, "tree", "f"), []byte("f\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "fix.patch"), []byte("--- a/x\n+++ b/x\n"), 0o644)
	path := filepath.Join(dir, "r.yaml")
	os.WriteFile(path, []byte(rootRecipe), 0o644)
	r, err := recipe.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var looked []string
	compile := func(work, root string) *plan.Plan {
		t.Helper()
		p, err := plan.Compile(r, plan.Options{WorkDir: work, Root: root, Host: testHost(t), Jobs: 2,
			ToolIdentity: func(tool string, env []string) (string, bool) {
				for _, kv := range env {
					if v, ok := strings.CutPrefix(kv, "PATH="); ok {
						looked = append(looked, tool+" on "+v)
					}
				}
				return "id of " + filepath.Base(tool), true
			}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const root = "/mnt/bootstrap"
	one, two := compile("/one/w", root), compile("/two/deeper/w2", root)
	if got := one.Step("a:patch").Inputs["patch[1]"]; got != "series ${{ work }}/src/a/debian/series in-source strip=1 fuzz=0" {
		t.Errorf("a series shipped in the source: patch[1] = %q, want it named as steps see it", got)
	}
	// The recipe named by a relative path (run from its directory) plans
	// the same signatures: a make e2e rerun once redid docker:patch
	// because patch[0] read "../series …" one time and "series …" the other.
	t.Chdir(dir)
	if r, err = recipe.Load("r.yaml"); err != nil {
		t.Fatal(err)
	}
	for i, st := range compile("/one/w", root).Steps {
		if st.Signature != one.Steps[i].Signature {
			t.Errorf("%s: signature differs when the recipe is named by a relative path: %v", st.ID, st.Inputs)
		}
	}
	for i, st := range one.Steps {
		if st.Signature != two.Steps[i].Signature {
			t.Errorf("%s: signature differs between work dirs", st.ID)
		}
		for k, v := range st.Inputs {
			if strings.Contains(v, "/one/") || strings.Contains(k, "/one/") || strings.Contains(v, dir) {
				t.Errorf("%s: input %s = %q names the work dir or the recipe's dir", st.ID, k, v)
			}
		}
	}
	s := one.Step("a:s")
	if s.Script != "echo /mnt/bootstrap/src/a /mnt/bootstrap/install > /mnt/bootstrap/build/a/x" ||
		s.Dir != "/mnt/bootstrap/src/a/sub" || !contains(s.Env, "WHERE=/mnt/bootstrap:/mnt/bootstrap/build/a") ||
		!contains(s.Env, "HOME=/mnt/bootstrap/home") || !contains(s.Env, "TMPDIR=/mnt/bootstrap/tmp") ||
		s.Requires[0].Tool != "/mnt/bootstrap/build/a/bin/a" {
		t.Errorf("what the step runs:\nscript %q\ndir %s\nenv %v\nrequires %+v", s.Script, s.Dir, s.Env, s.Requires)
	}
	if s.SrcDir != "/one/w/src/a" || s.BuildDir != "/one/w/build/a" || s.Requires[0].SrcDir != "/one/w/src/a" ||
		strings.Join(s.Outputs, " ") != "/one/w/install/a /one/w/build/a/out" || one.Step("a:verify").Verify.File != "/one/w/build/a/out/a.zip" {
		t.Errorf("what bootstrap reads: src %s build %s outputs %v verify %s", s.SrcDir, s.BuildDir, s.Outputs, one.Step("a:verify").Verify.File)
	}
	if in := s.Inputs; in["workdir"] != root || in["outputs"] != "/mnt/bootstrap/install/a\n/mnt/bootstrap/build/a/out" ||
		one.Step("a:patch").Inputs["patch[0]"] != "fix.patch "+one.Step("a:patch").Patches[0].Digest+" strip=1 fuzz=0" {
		t.Errorf("inputs: %v, patch %v", in, one.Step("a:patch").Inputs)
	}
	if one.RealPath(s.Dir) != "/one/w/src/a/sub" || one.StepPath("/one/w/install/a") != "/mnt/bootstrap/install/a" || one.RealPath("/usr/bin") != "/usr/bin" {
		t.Errorf("RealPath/StepPath do not map between %s and %s", one.Root, one.WorkDir)
	}
	if want := "/one/w/install/bin/own-tool on /one/w/install/bin:/usr/bin:/bin"; !contains(looked, want) {
		t.Errorf("tool identities looked up as %q, want %q among them", looked, want)
	}

	// --no-sandbox: steps see the real path, and their signatures name it.
	open1, open2 := compile("/one/w", ""), compile("/two/deeper/w2", "")
	if s := open1.Step("a:s"); s.Dir != "/one/w/src/a/sub" || s.Inputs["workdir"] != "/one/w" || open1.Root != "/one/w" {
		t.Errorf("--no-sandbox: dir %s, workdir input %q, root %q", s.Dir, s.Inputs["workdir"], open1.Root)
	}
	for i, st := range open1.Steps {
		run := st.Kind == plan.KindRun || st.Kind == plan.KindVerify
		if same := st.Signature == open2.Steps[i].Signature; same == run {
			t.Errorf("%s (%s): --no-sandbox signatures equal across work dirs: %v", st.ID, st.Kind, same)
		}
		if st.Kind == plan.KindRun && st.Signature == one.Steps[i].Signature {
			t.Errorf("%s: --no-sandbox signature equals the sandboxed one", st.ID)
		}
	}
}
