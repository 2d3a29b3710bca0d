package workflow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/source"
)

const toolRecipe = `name: flow
vars:
  tool_version: "2.1"
components:
  - name: tool
    source:
      dir: tool
    patches:
      - file: patches/0001-first.patch
    steps:
      - name: build
        run: cat ${{ src }}/a.txt
  - name: plain
    steps:
      - name: hello
        run: echo hello
`

const firstPatch = `--- a/a.txt
+++ b/a.txt
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
`

// fixture writes a recipe (mode 0640, which Save must keep), its dir
// source and patch into a fresh directory, and returns the recipe's path.
func fixture(t *testing.T, recipeText string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["flow.yaml"] = recipeText
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "flow.yaml")
}

// compile loads and compiles the recipe as the CLI does, for this host.
func compile(t *testing.T, path string) *plan.Plan {
	t.Helper()
	r, err := recipe.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	amd64, _ := arch.Lookup("amd64")
	p, err := plan.Compile(r, plan.Options{WorkDir: filepath.Join(filepath.Dir(path), "work"), Host: arch.Host{Target: amd64}, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sources() source.Set { return source.Set{"dir": source.Dir{}} }

// TestEditSaveCheck is the round trip through the package's API on a real
// recipe: edit, commit with go-git, save (a new series, the recipe edited
// in place with its mode kept), save again (nothing), check (all ok).
func TestEditSaveCheck(t *testing.T) {
	ctx := context.Background()
	path := fixture(t, toolRecipe, map[string]string{
		"tool/a.txt": "one\ntwo\nthree\n", "patches/0001-first.patch": firstPatch})
	p := compile(t, path)

	work, err := Edit(ctx, p, sources(), "tool")
	if err != nil || work != filepath.Join(p.WorkDir, "edit", "tool") {
		t.Fatalf("Edit = %s, %v", work, err)
	}
	if got, _ := os.ReadFile(filepath.Join(work, "a.txt")); string(got) != "one\nTWO\nthree\n" {
		t.Errorf("work tree a.txt = %q, want the patched file", got)
	}
	_, err = Edit(ctx, p, sources(), "tool")
	var wt *WorkTreeError
	var usage *runner.UsageError
	if !errors.As(err, &wt) || !wt.Exists || wt.Dir != work || !errors.As(err, &usage) {
		t.Errorf("second Edit: err = %v, want a usage error with a *WorkTreeError", err)
	}

	if err := os.WriteFile(filepath.Join(work, "a.txt"), []byte("one\nTWO\nthree\nfour\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	commit(t, work, "Add line four")

	saved, err := Save(ctx, p, "tool")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	wantPatch := filepath.Join(dir, "patches/tool/2.1/0002-Add-line-four.patch")
	if len(saved.Files) != 1 || saved.Files[0] != wantPatch || saved.Series != filepath.Join(dir, "patches/tool/2.1/series") ||
		saved.Added != "patches/tool/2.1/series" || saved.Step != "tool:patch" || saved.WorkTree != work {
		t.Fatalf("Save = %+v", saved)
	}
	if s, _ := os.ReadFile(saved.Series); string(s) != "0002-Add-line-four.patch\n" {
		t.Errorf("series = %q", s)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(toolRecipe, "0001-first.patch\n", "0001-first.patch\n      - series: patches/tool/2.1/series\n", 1)
	if string(got) != want {
		t.Errorf("recipe after Save:\n%s", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("recipe mode now %v, want 0640 kept", fi.Mode().Perm())
	}

	if again, err := Save(ctx, p, "tool"); err != nil || len(again.Files) != 0 || again.Series != "" {
		t.Errorf("second Save = %+v, %v; want nothing written", again, err)
	}

	var report []Checked
	if err := Check(ctx, compile(t, path), sources(), nil, func(c Checked) { report = append(report, c) }); err != nil {
		t.Fatalf("Check: %v (%+v)", err, report)
	}
	if len(report) != 2 || report[0].Verdict != OK || report[1].Verdict != OK || report[1].File != wantPatch {
		t.Errorf("Check reported %+v", report)
	}
}

// commit commits every change in the work tree, as a porter would.
func commit(t *testing.T, work, msg string) {
	t.Helper()
	repo, err := git.PlainOpen(work)
	if err != nil {
		t.Fatal(err)
	}
	w, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Pat Porter", Email: "pat@example.org", When: time.Now()}
	if _, err := w.Commit(msg, &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
}

// TestCheckVerdicts: in a series, a patch that applies, one that needs the
// recipe's fuzz, one that fails, and one after it that is not tried.
func TestCheckVerdicts(t *testing.T) {
	const recipeText = `name: flow
components:
  - name: tool
    source:
      dir: tool
    patches:
      - series: patches/series
        fuzz: 1
    steps:
      - name: build
        run: "true"
`
	// 2.patch's first context line drifted (x, not the file's one); 3.patch
	// changes a line that is not there at all.
	const fuzzy = "--- a/b.txt\n+++ b/b.txt\n@@ -1,4 +1,4 @@\n x\n two\n-three\n+THREE\n four\n"
	const broken = "--- a/a.txt\n+++ b/a.txt\n@@ -1,1 +1,1 @@\n-nothing like it\n+x\n"
	path := fixture(t, recipeText, map[string]string{
		"tool/a.txt": "one\ntwo\nthree\n", "tool/b.txt": "one\ntwo\nthree\nfour\nfive\n",
		"patches/series": "1.patch\n2.patch\n3.patch\n4.patch\n", "patches/1.patch": firstPatch,
		"patches/2.patch": fuzzy, "patches/3.patch": broken, "patches/4.patch": firstPatch})
	var report []Checked
	err := Check(context.Background(), compile(t, path), sources(), []string{"tool"}, func(c Checked) { report = append(report, c) })
	if !errors.Is(err, ErrDrifted) {
		t.Fatalf("Check: err = %v, want ErrDrifted", err)
	}
	want := []Verdict{OK, Fuzz, Fail, After}
	if len(report) != len(want) {
		t.Fatalf("report = %+v", report)
	}
	for i, c := range report {
		if c.Verdict != want[i] || filepath.Base(c.File) != []string{"1.patch", "2.patch", "3.patch", "4.patch"}[i] {
			t.Errorf("report[%d] = %+v, want %v", i, c, want[i])
		}
	}
	if report[1].Fuzz != 1 || report[1].Err == nil || report[2].Err == nil {
		t.Errorf("fuzz/fail details missing: %+v", report[1:3])
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "work")); err == nil {
		t.Error("Check made the work dir")
	}
}

// TestSaveErrors: no work tree and unknown components are usage errors;
// a recipe that cannot take the new entry fails before any patch is
// written.
func TestSaveErrors(t *testing.T) {
	ctx := context.Background()
	path := fixture(t, toolRecipe, map[string]string{
		"tool/a.txt": "one\ntwo\nthree\n", "patches/0001-first.patch": firstPatch})
	p := compile(t, path)
	var wt *WorkTreeError
	if _, err := Save(ctx, p, "tool"); !errors.As(err, &wt) || wt.Exists {
		t.Errorf("Save without a work tree: %v", err)
	}
	for comp, want := range map[string]string{"nope": `flow.yaml: no component "nope"`, "plain": "component plain (" + path + ":13:5) has no source"} {
		var usage *runner.UsageError
		if _, err := Save(ctx, p, comp); !errors.As(err, &usage) || !strings.Contains(err.Error(), want) {
			t.Errorf("Save %s: err = %v, want a usage error with %q", comp, err, want)
		}
	}

	// patches: in flow style cannot take a new line.
	flow := strings.Replace(toolRecipe, "    patches:\n      - file: patches/0001-first.patch\n", "    patches: [{file: patches/0001-first.patch}]\n", 1)
	path = fixture(t, flow, map[string]string{"tool/a.txt": "one\ntwo\nthree\n", "patches/0001-first.patch": firstPatch})
	p = compile(t, path)
	work, err := Edit(ctx, p, sources(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("changed\n"), 0o644)
	commit(t, work, "Change")
	if _, err := Save(ctx, p, "tool"); err == nil || !strings.Contains(err.Error(), "is not a block list") {
		t.Errorf("Save into a flow-style patches: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "patches/tool")); err == nil {
		t.Error("patches were written although the recipe could not be edited")
	}
	if got, _ := os.ReadFile(path); string(got) != flow {
		t.Error("the recipe changed")
	}
}
