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
		why, err := treeChange(store, work, cp.Step, cp.Build, rec)
		if err != nil {
			return fmt.Errorf("step %s: output %s: %w", st.Step.ID, rec.Path, err)
		}
		if why != "" {
			st.State = Stale
			st.Reasons = append(st.Reasons, "output "+inWork(work, rec.Path)+" "+why)
		}
	}
	if ref == nil || ref.Source == nil {
		return nil
	}
	why, err := treeChange(store, work, ref.Step, ref.Build, *ref.Source)
	if err != nil {
		return fmt.Errorf("step %s: source tree %s: %w", st.Step.ID, ref.Source.Path, err)
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
func treeChange(store *state.Store, work, id, build string, rec state.Tree) (string, error) {
	stat, err := treehash.StatSum(rec.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return "is missing", nil
	}
	if err != nil {
		return "", err
	}
	if stat == rec.Stat {
		return "", nil
	}
	old, err := store.LoadTrees(id, build, rec.Path)
	if err != nil {
		return "", err
	}
	cur, err := treehash.Snap(rec.Path, old)
	if err != nil {
		return "", err
	}
	if cur.Hash == rec.Hash {
		return "", nil // touched, not changed
	}
	if old == nil {
		return fmt.Sprintf("changed since its checkpoint: tree hash %s → %s", short(rec.Hash), short(cur.Hash)), nil
	}
	first := old.FirstChange(cur)
	if first == "" { // the trees file disagrees with the checkpoint
		return fmt.Sprintf("changed since its checkpoint: tree hash %s → %s", short(rec.Hash), short(cur.Hash)), nil
	}
	if strings.HasPrefix(first, ". ") { // a file output: it is the first changed file
		return "changed since its checkpoint", nil
	}
	return "changed since its checkpoint: " + inWork(work, fullPath(rec.Path, first)), nil
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
