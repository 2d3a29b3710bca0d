package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/state"
)

// sourceRefs returns, for the patch step of each component with a source,
// the checkpoint whose Source record the component's tree must still match
// (see outputs.go for the rule): the last of the unbroken chain of
// checkpoints from the patch step on. A component with a later step
// attempted and not finished gets none: its tree is work in progress.
func sourceRefs(p *plan.Plan, cps []*state.Checkpoint, atts []*state.Attempt) map[string]*state.Checkpoint {
	byComp := map[string][]int{}
	var order []string
	for i, s := range p.Steps {
		if s.Kind == plan.KindFetch {
			continue
		}
		if byComp[s.Component] == nil {
			order = append(order, s.Component)
		}
		byComp[s.Component] = append(byComp[s.Component], i)
	}
	refs := map[string]*state.Checkpoint{}
	for _, comp := range order {
		is := byComp[comp]
		patch := p.Steps[is[0]]
		if patch.Kind != plan.KindPatch || cps[is[0]] == nil {
			continue
		}
		ref, prev, chained, inFlux := cps[is[0]], patch.ID, true, false
		for _, i := range is[1:] {
			if atts[i] != nil {
				inFlux = true
				break
			}
			if cp := cps[i]; chained && cp != nil && cp.Source != nil && cp.Deps[prev] == ref.Build {
				ref, prev = cp, p.Steps[i].ID
				continue
			}
			chained = false
		}
		if !inFlux {
			refs[patch.ID] = ref
		}
	}
	return refs
}

// checkTrees holds a done step to what its checkpoint says about bytes: each
// output as the step left it and, for a patch step, the component's
// source tree as ref's step left it. Anything changed makes the step
// stale, with a reason naming the first changed file. Only lstat calls are
// made while the stat fingerprints match. It returns an error only when a
// tree cannot be read for another reason than its absence.
func checkTrees(st *Status, store *state.Store, work string, ref *state.Checkpoint) error {
	cp := st.Checkpoint
	for _, rec := range cp.OutputTrees {
		why, touched, err := treeChange(store, work, cp.Step, cp.Build, rec)
		if err != nil {
			return fmt.Errorf("step %s: output %s: %w", st.Step.ID, rec.Path, err)
		}
		if touched != nil {
			st.touched = append(st.touched, touchedTree{cp: cp, snap: touched, path: rec.Path})
		}
		if why != "" {
			st.State = Stale
			st.Reasons = append(st.Reasons, "output "+inWork(work, rec.Path)+" "+why)
		}
	}
	if ref == nil || ref.Source == nil {
		return nil
	}
	why, touched, err := treeChange(store, work, ref.Step, ref.Build, *ref.Source)
	if err != nil {
		return fmt.Errorf("step %s: source tree %s: %w", st.Step.ID, ref.Source.Path, err)
	}
	if touched != nil {
		st.touched = append(st.touched, touchedTree{cp: ref, snap: touched, path: ref.Source.Path})
	}
	if why != "" {
		st.State = Stale
		as := ""
		if ref.Step != cp.Step {
			as = " (as " + ref.Step + " left it)"
		}
		st.Reasons = append(st.Reasons, "source tree "+inWork(work, ref.Source.Path)+as+" "+why)
	}
	return nil
}

// treeChange compares a file or tree with its record in step id's
// checkpoint (run build): "" when its content is the same, otherwise a few
// words ("is missing", "changed since its checkpoint: PATH changed").
// Paths are shown relative to the work dir when they are in it. When only stat fields differ, the files whose stat changed are hashed
// again (all of them when the trees file is gone).
//
// When the tree was only touched, touched is its new snapshot, so that a
// run can keep the new fingerprint (RefreshFingerprints) and not read the
// touched files again next time.
func treeChange(store *state.Store, work, id, build string, rec state.Tree) (why string, touched *treehash.Snapshot, err error) {
	stat, err := treehash.StatSum(rec.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return "is missing", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if stat == rec.Stat {
		return "", nil, nil
	}
	old, err := store.LoadTrees(id, build, rec.Path)
	if err != nil {
		return "", nil, err
	}
	cur, err := treehash.Snap(rec.Path, old)
	if err != nil {
		return "", nil, err
	}
	if cur.Hash == rec.Hash {
		return "", cur, nil
	}
	return describeChange(work, rec, old, cur), nil, nil
}

// describeChange says how a tree changed, naming its first changed file
// when the old snapshot's entries are known.
func describeChange(work string, rec state.Tree, old, cur *treehash.Snapshot) string {
	first := ""
	if old != nil {
		first = old.FirstChange(cur)
	}
	switch {
	case first == "": // no trees file, or one that disagrees with the checkpoint
		return fmt.Sprintf("changed since its checkpoint: tree hash %s → %s", short(rec.Hash), short(cur.Hash))
	case strings.HasPrefix(first, ". "): // a file output: it is the first changed file
		return "changed since its checkpoint"
	}
	return "changed since its checkpoint: " + inWork(work, fullPath(rec.Path, first))
}

// fullPath turns FirstChange's "REL what" into "PATH/REL what".
func fullPath(root, change string) string {
	for i := len(change) - 1; i >= 0; i-- {
		if change[i] == ' ' {
			rel, what := change[:i], change[i:]
			if rel == "." {
				return root + what
			}
			return filepath.Join(root, filepath.FromSlash(rel)) + what
		}
	}
	return change
}

// inWork shows a path inside the work dir relative to it, as the porter
// reads the rest of plan's output; other paths stay absolute.
func inWork(work, p string) string {
	if rel, err := filepath.Rel(work, p); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return p
}

// touchedTree is a tree whose stat fingerprint no longer matches its
// checkpoint's although its content does.
type touchedTree struct {
	cp   *state.Checkpoint
	snap *treehash.Snapshot
	path string
}

// RefreshFingerprints rewrites the checkpoints of trees that were touched
// but not changed with their new stat fingerprints (trees file first, then
// the checkpoint: a crash between leaves a fingerprint that differs and a
// trees file that spares the re-reading), so that the next status makes
// lstat calls only. The caller holds the work dir's lock. It returns the
// first error, naming the step.
func RefreshFingerprints(store *state.Store, sts []*Status) error {
	byStep := map[*state.Checkpoint][]touchedTree{}
	var order []*state.Checkpoint
	for _, st := range sts {
		for _, tt := range st.touched {
			if byStep[tt.cp] == nil {
				order = append(order, tt.cp)
			}
			byStep[tt.cp] = append(byStep[tt.cp], tt)
		}
	}
	for _, cp := range order {
		if err := refresh(store, cp, byStep[cp]); err != nil {
			return fmt.Errorf("step %s: keep new stat fingerprints: %w", cp.Step, err)
		}
	}
	return nil
}

func refresh(store *state.Store, cp *state.Checkpoint, touched []touchedTree) error {
	if err := cp.DecodeInputs(); err != nil { // Save writes them back
		return err
	}
	trees := &state.Trees{Build: cp.Build, Snapshots: map[string]*treehash.Snapshot{}}
	paths := map[string]bool{}
	for _, o := range cp.OutputTrees {
		paths[o.Path] = true
	}
	if cp.Source != nil {
		paths[cp.Source.Path] = true
	}
	for p := range paths {
		snap, err := store.LoadTrees(cp.Step, cp.Build, p)
		if err != nil {
			return err
		}
		if snap != nil {
			trees.Snapshots[p] = snap
		}
	}
	for _, tt := range touched {
		trees.Snapshots[tt.path] = tt.snap
		for i := range cp.OutputTrees {
			if cp.OutputTrees[i].Path == tt.path {
				cp.OutputTrees[i].Stat = tt.snap.Stat
			}
		}
		if cp.Source != nil && cp.Source.Path == tt.path {
			cp.Source.Stat = tt.snap.Stat
		}
	}
	if err := store.SaveTrees(cp.Step, trees); err != nil {
		return err
	}
	return store.Save(cp)
}
