package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/state"
)

// TestSourceRefs checks which checkpoint a component's source tree is held
// to: the last of the unbroken chain from the patch step, none while a
// later step is in progress or failed.
func TestSourceRefs(t *testing.T) {
	p := &plan.Plan{Steps: []*plan.Step{
		{ID: "c:fetch", Component: "c", Kind: plan.KindFetch},
		{ID: "c:patch", Component: "c", Kind: plan.KindPatch, Deps: []string{"c:fetch"}},
		{ID: "c:make", Component: "c", Kind: plan.KindRun, Deps: []string{"c:patch"}},
		{ID: "c:install", Component: "c", Kind: plan.KindRun, Deps: []string{"c:make"}},
		{ID: "n:run", Component: "n", Kind: plan.KindRun, Deps: []string{"c:install"}},
	}}
	src := &state.Tree{Path: "/w/src/c"}
	cp := func(id, build, dep, depBuild string) *state.Checkpoint {
		return &state.Checkpoint{Step: id, Build: build, Source: src, Deps: map[string]string{dep: depBuild}}
	}
	fetch := &state.Checkpoint{Step: "c:fetch", Build: "f1"}
	patch := cp("c:patch", "p1", "c:fetch", "f1")
	make1 := cp("c:make", "m1", "c:patch", "p1")
	install1 := cp("c:install", "i1", "c:make", "m1")
	failed := &state.Attempt{Step: "c:install", Outcome: state.Failed}
	oldFormat := *install1
	oldFormat.Source = nil
	cases := []struct {
		name string
		cps  []*state.Checkpoint
		atts []*state.Attempt
		want string // the reference's step, "" for none
	}{
		{"all done", []*state.Checkpoint{fetch, patch, make1, install1, nil}, nil, "c:install"},
		{"later step failed", []*state.Checkpoint{fetch, patch, make1, nil, nil}, []*state.Attempt{nil, nil, nil, failed, nil}, ""},
		{"make ran against an older patch", []*state.Checkpoint{fetch, patch, cp("c:make", "m0", "c:patch", "p0"), cp("c:install", "i0", "c:make", "m0"), nil}, nil, "c:patch"},
		{"install ran against an older make", []*state.Checkpoint{fetch, patch, make1, cp("c:install", "i0", "c:make", "m0"), nil}, nil, "c:make"},
		{"install not run yet", []*state.Checkpoint{fetch, patch, make1, nil, nil}, nil, "c:make"},
		{"install from before trees were kept", []*state.Checkpoint{fetch, patch, make1, &oldFormat, nil}, nil, "c:make"},
		{"never patched", []*state.Checkpoint{fetch, nil, nil, nil, nil}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			atts := c.atts
			if atts == nil {
				atts = make([]*state.Attempt, len(p.Steps))
			}
			refs := sourceRefs(p, c.cps, atts)
			got := ""
			if r := refs["c:patch"]; r != nil {
				got = r.Step
			}
			if got != c.want {
				t.Errorf("reference %q, want %q", got, c.want)
			}
			if len(refs) > 1 {
				t.Errorf("references for steps other than the patch step: %v", refs)
			}
		})
	}
}

// TestTreeChange holds a real tree to a snapshot saved the way a step
// saves it.
func TestTreeChange(t *testing.T) {
	later := time.Now().Add(time.Hour)
	cases := []struct {
		name    string
		change  func(work, tree string) error
		want    string
		touched bool
	}{
		{"unchanged, trees file unreadable", func(work, _ string) error {
			// Proves that a matching fingerprint reads nothing more.
			return os.WriteFile(state.Open(work).TreesPath("c:make"), []byte("{"), 0o644)
		}, "", false},
		{"touched", func(_, tree string) error { return os.Chtimes(filepath.Join(tree, "b", "f"), later, later) }, "", true},
		{"changed", func(_, tree string) error { return os.WriteFile(filepath.Join(tree, "b", "f"), []byte("y"), 0o644) },
			"changed since its checkpoint: src/c/b/f changed", false},
		{"changed, no trees file", func(work, tree string) error {
			os.Remove(state.Open(work).TreesPath("c:make"))
			return os.WriteFile(filepath.Join(tree, "b", "f"), []byte("y"), 0o644)
		}, "changed since its checkpoint: tree hash sha256:", false},
		{"missing", func(_, tree string) error { return os.RemoveAll(tree) }, "is missing", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			tree := filepath.Join(work, "src", "c")
			if err := os.MkdirAll(filepath.Join(tree, "b"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tree, "b", "f"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			snap, err := treehash.Snap(tree, nil)
			if err != nil {
				t.Fatal(err)
			}
			store := state.Open(work)
			if err := store.SaveTrees("c:make", &state.Trees{Build: "b1", Snapshots: map[string]*treehash.Snapshot{tree: snap}}); err != nil {
				t.Fatal(err)
			}
			if err := c.change(work, tree); err != nil {
				t.Fatal(err)
			}
			got, touched, err := treeChange(store, work, "c:make", "b1", state.Tree{Path: tree, Hash: snap.Hash, Stat: snap.Stat})
			if err != nil {
				t.Fatal(err)
			}
			if (touched != nil) != c.touched {
				t.Errorf("touched snapshot %v, want one: %v", touched != nil, c.touched)
			}
			if (c.want == "") != (got == "") || !strings.HasPrefix(got, c.want) {
				t.Errorf("treeChange = %q, want %q…", got, c.want)
			}
		})
	}
}

// TestSnapshotTreesSubjects: a step's checkpoint carries each output's
// digest as provenance names it, taken when the step ended.
func TestSnapshotTreesSubjects(t *testing.T) {
	work := t.TempDir()
	file, dir := filepath.Join(work, "install", "tool"), filepath.Join(work, "install", "lib")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(file, []byte("hello\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644)
	st := &plan.Step{ID: "c:install", Component: "c", Kind: plan.KindRun, Outputs: []string{file, dir}, SrcDir: filepath.Join(work, "src", "c")}
	s := &scheduler{p: &plan.Plan{WorkDir: work, Steps: []*plan.Step{st}}, store: state.Open(work)}
	cp := &state.Checkpoint{Step: st.ID, Build: "b1"}
	if err := s.snapshotTrees(st, cp); err != nil {
		t.Fatal(err)
	}
	// sha256sum of "hello\n".
	if got := cp.Subjects[file]["sha256"]; got != "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" {
		t.Errorf("file subject %v", cp.Subjects[file])
	}
	sum, _ := treehash.Sum(dir)
	if got := cp.Subjects[dir][state.DigestTreeHash]; "sha256:"+got != sum {
		t.Errorf("tree subject %v, tree hash %s", cp.Subjects[dir], sum)
	}
	if cp.Source != nil {
		t.Errorf("a component without a patch step got a source record %+v", cp.Source)
	}
	if len(cp.OutputTrees) != 2 || cp.Outputs[dir] != sum {
		t.Errorf("output records %+v %v", cp.OutputTrees, cp.Outputs)
	}
}

// TestRefreshFingerprints: after a run keeps the new fingerprint of a
// touched tree, status makes lstat calls only (the trees file, damaged
// here, is not read), and the checkpoint keeps its inputs.
func TestRefreshFingerprints(t *testing.T) {
	work := t.TempDir()
	tree := filepath.Join(work, "src", "c")
	os.MkdirAll(tree, 0o755)
	os.WriteFile(filepath.Join(tree, "f"), []byte("x"), 0o644)
	snap, err := treehash.Snap(tree, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := state.Open(work)
	cp := &state.Checkpoint{Step: "c:patch", Signature: "s", Build: "b1", Inputs: map[string]string{"kind": "patch"},
		Source: &state.Tree{Path: tree, Hash: snap.Hash, Stat: snap.Stat}}
	if err := store.SaveTrees(cp.Step, &state.Trees{Build: "b1", Snapshots: map[string]*treehash.Snapshot{tree: snap}}); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(cp); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(tree, "f"), later, later)
	loaded, err := store.Load(cp.Step)
	if err != nil {
		t.Fatal(err)
	}
	st := &Status{Step: &plan.Step{ID: cp.Step}, Checkpoint: loaded, State: Done}
	if err := checkTrees(st, store, work, loaded); err != nil {
		t.Fatal(err)
	}
	if st.State != Done || len(st.touched) != 1 {
		t.Fatalf("touched tree: state %s, touched %d, reasons %v", st.State, len(st.touched), st.Reasons)
	}
	if err := RefreshFingerprints(store, []*Status{st}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(store.TreesPath(cp.Step), []byte("{"), 0o644)
	again, err := store.Load(cp.Step)
	if err != nil {
		t.Fatal(err)
	}
	if why, touched, err := treeChange(store, work, again.Step, again.Build, *again.Source); why != "" || touched != nil || err != nil {
		t.Errorf("after the refresh: %q, %v, %v; want unchanged from lstat alone", why, touched, err)
	}
	if err := again.DecodeInputs(); err != nil || again.Inputs["kind"] != "patch" {
		t.Errorf("inputs after the refresh: %v, %v", again.Inputs, err)
	}
}
