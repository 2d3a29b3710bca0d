package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner"
)

// git runs the git CLI in dir as a porter would, isolated from the
// caller's configuration.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Pat Porter", "-c", "user.email=pat@example.org"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestPatchRoundTrip builds a component with one patch, edits its patches
// with `patch edit` and git, saves the new commit with `patch save`, and
// checks the files written, the recipe edit, and that the next run
// rebuilds exactly from greet:patch on with the change.
func TestPatchRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git CLI")
	}
	dir := copyFixture(t, "patchrt")
	recipePath := filepath.Join(dir, "patchrt.yaml")
	original := readFile(t, recipePath)
	greeting := filepath.Join(hostWork(dir, "patchrt"), "install/greeting.txt")

	r := bs(t, dir, "run", "patchrt.yaml")
	if r.code != 0 || !strings.Contains(readFile(t, greeting), "board: testboard\n") {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = bs(t, dir, "patch", "edit", "patchrt.yaml", "greet")
	work := filepath.Join(hostWork(dir, "patchrt"), "edit/greet")
	if r.code != 0 || !strings.Contains(r.stdout, "greet: work tree "+work+"\n") ||
		!strings.Contains(r.stdout, "bootstrap patch save patchrt.yaml greet\n") {
		t.Fatalf("patch edit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if log := git(t, work, "log", "--format=%s <%ae>"); log != "Name the board <alice@example.org>\nUnpacked source, no patches <bootstrap@localhost>\n" {
		t.Errorf("work tree history:\n%s", log)
	}
	if left, _ := filepath.Glob(filepath.Join(hostWork(dir, "patchrt"), "edit/.greet.*")); len(left) > 0 {
		t.Errorf("patch edit left %v behind", left)
	}

	edit(t, filepath.Join(work, "greet.sh"), `echo "hello from greet"`, `echo "hello from the patched greet"`)
	git(t, work, "commit", "-q", "-a", "-m", "Greet louder\n\nThe board's console is far away.")

	r = bs(t, dir, "patch", "edit", "patchrt.yaml", "greet")
	if r.code != 2 || !strings.Contains(r.stderr, "rm -rf "+work) || !strings.Contains(r.stderr, "patchrt.yaml: component greet") {
		t.Errorf("patch edit over a work tree: exit %d\n%s", r.code, r.stderr)
	}

	r = bs(t, dir, "patch", "save", "patchrt.yaml", "greet")
	const newPatch = "patches/greet/1.0/0002-Greet-louder.patch"
	for _, want := range []string{"wrote " + newPatch + "\n", "updated patches/greet/1.0/series\n",
		"added `- series: patches/greet/1.0/series` to the patches of greet in patchrt.yaml\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("patch save: exit %d, stdout lacks %q\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	p := readFile(t, filepath.Join(dir, newPatch))
	for _, want := range []string{"From: Pat Porter <pat@example.org>\n", "Subject: [PATCH] Greet louder\n",
		"The board's console is far away.\n", "-echo \"hello from greet\"\n+echo \"hello from the patched greet\"\n"} {
		if !strings.Contains(p, want) {
			t.Errorf("%s lacks %q:\n%s", newPatch, want, p)
		}
	}
	if s := readFile(t, filepath.Join(dir, "patches/greet/1.0/series")); s != "0002-Greet-louder.patch\n" {
		t.Errorf("series = %q", s)
	}
	want := strings.Replace(original, "0001-Name-the-board.patch\n",
		"0001-Name-the-board.patch\n      - series: patches/greet/1.0/series\n", 1)
	if got := readFile(t, recipePath); got != want {
		t.Errorf("recipe after save:\n%s\nwant:\n%s", got, want)
	}

	r = bs(t, dir, "run", "patchrt.yaml")
	if got, want := started(r.stdout), []string{"greet:build", "greet:install", "greet:patch"}; r.code != 0 || !equal(got, want) {
		t.Fatalf("run after save: exit %d, started %v, want %v\n%s%s", r.code, got, want, r.stdout, r.stderr)
	}
	if g := readFile(t, greeting); g != "hello from the patched greet\nboard: testboard\ncpu: generic\nbye\n" {
		t.Errorf("greeting after save = %q", g)
	}
	r = bs(t, dir, "run", "patchrt.yaml")
	if r.code != 0 || len(started(r.stdout)) != 0 {
		t.Errorf("second run: exit %d, started %v", r.code, started(r.stdout))
	}

	r = bs(t, dir, "patch", "save", "patchrt.yaml", "greet")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing written") || readFile(t, recipePath) != want {
		t.Errorf("save without new commits: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A further commit joins the series the recipe now lists.
	edit(t, filepath.Join(work, "greet.sh"), `echo "bye"`, `echo "ciao"`)
	git(t, work, "commit", "-q", "-a", "-m", "Say ciao")
	r = bs(t, dir, "patch", "save", "patchrt.yaml", "greet")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote patches/greet/1.0/0003-Say-ciao.patch\n") || strings.Contains(r.stdout, "added") {
		t.Fatalf("third save: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := readFile(t, filepath.Join(dir, "patches/greet/1.0/series")); s != "0002-Greet-louder.patch\n0003-Say-ciao.patch\n" || readFile(t, recipePath) != want {
		t.Errorf("after the third save: series %q, recipe changed: %v", s, readFile(t, recipePath) != want)
	}
	r = bs(t, dir, "run", "patchrt.yaml")
	if got, want := started(r.stdout), []string{"greet:build", "greet:install", "greet:patch"}; r.code != 0 || !equal(got, want) ||
		!strings.HasSuffix(readFile(t, greeting), "ciao\n") {
		t.Errorf("run after the third save: exit %d, started %v, want %v\n%s", r.code, got, want, r.stderr)
	}
}

// TestPatchUsage checks the errors a porter sees for a wrong component or
// a save without an edit.
func TestPatchUsage(t *testing.T) {
	dir := copyFixture(t, "patchrt")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"patch", "edit", "patchrt.yaml"}, "usage: bootstrap patch edit RECIPE COMPONENT"},
		{[]string{"patch", "edit", "patchrt.yaml", "nope"}, `patchrt.yaml: no component "nope"`},
		{[]string{"patch", "edit", "patchrt.yaml", "other"}, "component other (patchrt.yaml:22:5) has no source"},
		{[]string{"patch", "save", "patchrt.yaml", "greet"}, "run `bootstrap patch edit patchrt.yaml greet` first"},
	} {
		r := bs(t, dir, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr lacks %q:\n%s", tt.args, r.code, tt.want, r.stderr)
		}
	}
}

// TestSeriesFor checks which series file patch save writes to.
func TestSeriesFor(t *testing.T) {
	dir := t.TempDir()
	r := &recipe.Recipe{File: filepath.Join(dir, "r.yaml"), Vars: []recipe.Var{
		{Name: recipe.Str{Value: "version"}, Value: recipe.Str{Value: "${{ go_version }}"}},
		{Name: recipe.Str{Value: "go_version"}, Value: recipe.Str{Value: "1.19.8"}},
	}}
	def := filepath.Join(dir, "patches/go/1.19.8/series")
	own := filepath.Join(dir, "mine/series")
	debian := plan.Patch{Series: "/w/src/go/debian/patches/series", Strip: 1, Digest: "in-source"}
	for _, tt := range []struct {
		name    string
		patches []plan.Patch
		want    string
		add     bool
		err     string
	}{
		{"none", nil, def, true, ""},
		{"last is in-source", []plan.Patch{{Series: own, Strip: 1}, debian}, def, true, ""},
		{"last is its own series", []plan.Patch{debian, {Series: own, Strip: 1}}, own, false, ""},
		{"own series with another strip", []plan.Patch{{Series: own, Strip: 0}}, def, true, ""},
		{"default listed but not last", []plan.Patch{{Series: def, Strip: 1}, {File: "/x.patch", Strip: 1}}, "", false, "not last"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &plan.Step{SrcDir: "/w/src/go", Patches: tt.patches}
			got, add, err := seriesFor(r, st, "go")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want || add != tt.add {
				t.Errorf("seriesFor = %s, %v, %v; want %s, %v", got, add, err, tt.want, tt.add)
			}
		})
	}
	if v := patchVersion(r, "gccgo-boot"); v != "local" {
		t.Errorf("patchVersion without a usable var = %q, want local", v)
	}
	st := &plan.Step{SrcDir: "/w/src/go", Patches: []plan.Patch{debian}}
	if got := runner.PatchesIn(st, "/tmp/fresh"); got[0].Series != "/tmp/fresh/debian/patches/series" || st.Patches[0].Series != debian.Series {
		t.Errorf("PatchesIn = %+v (step now %+v)", got, st.Patches)
	}
}

// TestPatchesDir: a recipe in recipes/ saves into the patches/ beside
// it, as this project's recipes do, unless it has patches/ of its own.
func TestPatchesDir(t *testing.T) {
	for _, tt := range []struct {
		name  string
		dirs  []string // made under a fresh temporary dir
		where string   // the recipe's dir
		want  string
	}{
		{"project layout", []string{"recipes", "patches"}, "recipes", "patches"},
		{"recipes with patches of its own", []string{"recipes/patches", "patches"}, "recipes", "recipes/patches"},
		{"no patches yet", []string{"recipes"}, "recipes", "recipes/patches"},
		{"another dir name", []string{"mine", "patches"}, "mine", "mine/patches"},
		{"top-level recipe", []string{"patches"}, ".", "patches"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			for _, d := range tt.dirs {
				if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := patchesDir(filepath.Join(top, tt.where)), filepath.Join(top, tt.want); got != want {
				t.Errorf("patchesDir = %s, want %s", got, want)
			}
		})
	}
}

// TestPatchCheck runs `patch check` on a patch that applies, one that has
// drifted from its source (it needs the recipe's fuzz) and one that no
// longer applies at all.
func TestPatchCheck(t *testing.T) {
	const file = "patches/greet/0001-Name-the-board.patch"
	for _, tc := range []struct {
		name     string
		from, to string // the change to greet/greet.sh
		fuzz     bool   // give the patch fuzz: 1 in the recipe
		code     int
		want     string
	}{
		{"applies", "", "", false, 0, "ok    greet  " + file + "\n"},
		{"drifted", "#!/bin/sh", "#!/bin/bash", true, 1, "FUZZ  greet  " + file + ": applies only with fuzz 1"},
		{"drifted without fuzz", "#!/bin/sh", "#!/bin/bash", false, 1, "FAIL  greet  " + file + ":"},
		{"changed line", `"board: unknown"`, `"board: none"`, true, 1, "FAIL  greet  " + file + ":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, "patchrt")
			if tc.from != "" {
				edit(t, filepath.Join(dir, "greet/greet.sh"), tc.from, tc.to)
			}
			if tc.fuzz {
				edit(t, filepath.Join(dir, "patchrt.yaml"), file+"\n", file+"\n        fuzz: 1\n")
			}
			before := readFile(t, filepath.Join(dir, "greet/greet.sh"))
			r := bs(t, dir, "patch", "check", "patchrt.yaml")
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
				t.Fatalf("exit %d, want %d and %q in\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			if tc.code != 0 && !strings.Contains(r.stderr, "do not apply with fuzz 0") {
				t.Errorf("stderr does not say why it failed: %s", r.stderr)
			}
			if readFile(t, filepath.Join(dir, "greet/greet.sh")) != before {
				t.Error("patch check changed the source")
			}
			if _, err := os.Stat(filepath.Join(dir, ".bootstrap")); err == nil {
				t.Error("patch check made a work dir")
			}
		})
	}
}
