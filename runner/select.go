package runner

import (
	"fmt"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// Selection says which steps a run considers and which it reruns even when
// they are done. It is built from --from, --to, --only, --force and
// --force-all:
//
//   - --to S: S and everything it depends on.
//   - --from S: S and everything after it, rerun even when done; the steps
//     before S are not run, but each must have finished once.
//   - --only S: S alone, rerun; its dependencies must have finished once.
//   - --force S: S reruns even when done (and, having run again, so does
//     everything after it that is selected).
//   - --force-all: every selected step reruns.
//
// A bare component name stands for its last step with --to, its first step
// with --from, and all of its steps with --only and --force.
//
// --only and --from do not combine (one reruns just the steps named, the
// other everything after a step), and a selection that leaves no step to
// consider is refused rather than run as a no-op that exits 0.
type Selection struct {
	From     string
	To       string
	Only     []string
	Force    []string
	ForceAll bool
}

// resolved is a Selection applied to a plan.
type resolved struct {
	selected map[string]bool
	forced   map[string]bool
	// external are the steps outside the selection that selected steps
	// depend on; they must have a checkpoint.
	external map[string]bool
}

// resolve applies sel to p. It returns an error naming the flag when a step
// is unknown, the flags conflict or nothing is left selected; decide wraps
// it in a *UsageError.
func (sel Selection) resolve(p *plan.Plan) (*resolved, error) {
	if sel.From != "" && len(sel.Only) > 0 {
		return nil, fmt.Errorf("--only and --from do not go together: --only %s runs just the steps named, --from %s reruns everything after a step; give one of them",
			strings.Join(sel.Only, ","), sel.From)
	}
	r := &resolved{selected: map[string]bool{}, forced: map[string]bool{}, external: map[string]bool{}}
	for _, s := range p.Steps {
		r.selected[s.ID] = true
	}
	if sel.To != "" {
		to, err := lookup(p, sel.To, "last")
		if err != nil {
			return nil, fmt.Errorf("--to: %w", err)
		}
		keep := ancestors(p, to)
		intersect(r.selected, keep)
	}
	if sel.From != "" {
		from, err := lookup(p, sel.From, "first")
		if err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
		after := descendants(p, from)
		intersect(r.selected, after)
		for id := range after {
			r.forced[id] = true
		}
	}
	if len(sel.Only) > 0 {
		only := map[string]bool{}
		for _, o := range sel.Only {
			ids, err := lookupAll(p, o)
			if err != nil {
				return nil, fmt.Errorf("--only: %w", err)
			}
			for _, id := range ids {
				only[id] = true
				r.forced[id] = true
			}
		}
		intersect(r.selected, only)
	}
	if len(r.selected) == 0 {
		return nil, fmt.Errorf("%s select no step: nothing would run", sel.flags())
	}
	for _, f := range sel.Force {
		ids, err := lookupAll(p, f)
		if err != nil {
			return nil, fmt.Errorf("--force: %w", err)
		}
		for _, id := range ids {
			r.forced[id] = true
		}
	}
	if sel.ForceAll {
		for id := range r.selected {
			r.forced[id] = true
		}
	}
	for id := range r.forced {
		if !r.selected[id] {
			delete(r.forced, id)
		}
	}
	for _, s := range p.Steps {
		if !r.selected[s.ID] {
			continue
		}
		for _, d := range s.Deps {
			if !r.selected[d] {
				r.external[d] = true
			}
		}
	}
	return r, nil
}

// flags writes the selecting flags of sel as they were given.
func (sel Selection) flags() string {
	var parts []string
	if sel.To != "" {
		parts = append(parts, "--to "+sel.To)
	}
	if sel.From != "" {
		parts = append(parts, "--from "+sel.From)
	}
	for _, o := range sel.Only {
		parts = append(parts, "--only "+o)
	}
	return strings.Join(parts, " with ")
}

func intersect(set, keep map[string]bool) {
	for id := range set {
		if !keep[id] {
			delete(set, id)
		}
	}
}

// lookup resolves a step name; a bare component name picks its first or
// last step.
func lookup(p *plan.Plan, name, which string) (string, error) {
	if s := p.Step(name); s != nil {
		return s.ID, nil
	}
	ids, err := lookupAll(p, name)
	if err != nil {
		return "", err
	}
	if which == "first" {
		return ids[0], nil
	}
	return ids[len(ids)-1], nil
}

// lookupAll resolves a step name, or a component name to all its steps.
func lookupAll(p *plan.Plan, name string) ([]string, error) {
	if s := p.Step(name); s != nil {
		return []string{s.ID}, nil
	}
	var ids, comps []string
	seen := map[string]bool{}
	for _, s := range p.Steps {
		if s.Component == name {
			ids = append(ids, s.ID)
		}
		if !seen[s.Component] {
			seen[s.Component] = true
			comps = append(comps, s.Component)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no step or component %q in this recipe (components: %s; steps are written component:step)", name, strings.Join(comps, ", "))
	}
	return ids, nil
}

// ancestors is id and every step it depends on, transitively.
func ancestors(p *plan.Plan, id string) map[string]bool {
	out := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if out[id] {
			return
		}
		out[id] = true
		for _, d := range p.Step(id).Deps {
			walk(d)
		}
	}
	walk(id)
	return out
}

// descendants is id and every step that depends on it, transitively.
func descendants(p *plan.Plan, id string) map[string]bool {
	out := map[string]bool{id: true}
	for _, s := range p.Steps { // plan order is topological
		for _, d := range s.Deps {
			if out[d] {
				out[s.ID] = true
			}
		}
	}
	return out
}

// StepsFrom returns, in plan order, the step named (a component name means
// its first step) and every step after it.
func StepsFrom(p *plan.Plan, name string) ([]string, error) {
	id, err := lookup(p, name, "first")
	if err != nil {
		return nil, err
	}
	after := descendants(p, id)
	var out []string
	for _, s := range p.Steps {
		if after[s.ID] {
			out = append(out, s.ID)
		}
	}
	return out, nil
}

// Selected returns the IDs of the steps sel selects in p, the steps a run
// with it would consider: what `run --offline` must find in the cache. A
// selection that cannot apply to p is a *UsageError.
func (sel Selection) Selected(p *plan.Plan) (map[string]bool, error) {
	r, err := sel.resolve(p)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	return r.selected, nil
}
