// Package runner executes a compiled plan: it decides which steps are done,
// runs the rest in dependency order with bounded parallelism, and writes a
// checkpoint after each step that succeeds.
package runner

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/toolid"
)

// State is where a step stands against its checkpoint.
type State string

// The states a step can be in.
const (
	// Done: the checkpoint holds the current signature, every dependency
	// is done and unchanged since, every output is what the step left
	// and, for a patch step, the source tree is what the component's
	// last step left (outputs.go).
	Done State = "done"
	// Stale: the step ran before, but something it depends on changed,
	// or its outputs or source tree changed since its checkpoint.
	Stale State = "stale"
	// Pending: the step never finished (or its checkpoint was cleared)
	// and no attempt at it is on record.
	Pending State = "pending"
	// Failed: the last attempt failed (Status.Attempt says how).
	Failed State = "failed"
	// Running: a live run is at the step now.
	Running State = "running"
	// Interrupted: the last attempt was stopped by a signal, or the run
	// making it died (SIGKILL, power loss) before it ended.
	Interrupted State = "interrupted"
)

// Status is one step's state and the reasons for it.
type Status struct {
	Step  *plan.Step
	State State
	// Reasons say why a step is stale or pending, one short line each.
	Reasons []string
	// Checkpoint is the step's checkpoint, nil when there is none.
	Checkpoint *state.Checkpoint
	// Changes are the inputs that differ from the checkpoint, for explain.
	Changes []Change
	// Attempt is the last attempt at a step with no checkpoint, nil when
	// there is none; it makes the step failed, running or interrupted.
	Attempt *state.Attempt

	// touched are trees whose stat changed and content did not, for
	// RefreshFingerprints.
	touched []touchedTree
}

// Detail says in one line what the last attempt at a failed, running or
// interrupted step came to, with its log; "" for other states. Plan, explain
// and run print it (it is also the step's only reason).
func (s *Status) Detail() string {
	a := s.Attempt
	if a == nil {
		return ""
	}
	switch s.State {
	case Failed:
		what := short(a.Error)
		if a.Exit != 0 {
			what = fmt.Sprintf("exit %d", a.Exit)
		}
		if a.Emulator != "" {
			// qemu has failed valid builds (issue 24): say so where the
			// porter decides what to do next.
			return fmt.Sprintf("%s at %s, emulated by %s: the failure may not be the build's (qemu can compute wrong results; rerun it), log %s", what, clock(a.Ended), a.Emulator, a.Log)
		}
		return fmt.Sprintf("%s at %s, log %s", what, clock(a.Ended), a.Log)
	case Running:
		return fmt.Sprintf("pid %d since %s, log %s", a.PID, clock(a.Started), a.Log)
	case Interrupted:
		if a.Outcome == state.Interrupted {
			by := a.Signal
			if by == "" {
				by = "cancelled"
			}
			return fmt.Sprintf("at %s (%s), log %s", clock(a.Ended), by, a.Log)
		}
		return fmt.Sprintf("started %s, the run (pid %d) was killed, log %s", clock(a.Started), a.PID, a.Log)
	}
	return ""
}

// clock is a time of day in local time, with the date when it is not
// today: what a porter compares with the clock on the wall.
func clock(t time.Time) string {
	t = t.Local()
	if t.Format(time.DateOnly) != time.Now().Format(time.DateOnly) {
		return t.Format("2006-01-02 15:04")
	}
	return t.Format("15:04")
}

// attemptState is the state an attempt gives a step with no checkpoint.
func attemptState(a *state.Attempt) State {
	switch {
	case a.Outcome == state.Failed:
		return Failed
	case a.Alive():
		return Running
	}
	return Interrupted
}

// Change is one signature input that differs from the checkpoint's.
type Change struct {
	Key      string
	Old, New string
	// Added and Removed mark inputs present on only one side.
	Added, Removed bool
}

// ETA is how long the step took last time, 0 when unknown.
func (s *Status) ETA() time.Duration {
	if s.Checkpoint == nil {
		return 0
	}
	return time.Duration(s.Checkpoint.Seconds * float64(time.Second))
}

// Statuses evaluates every step of the plan against the store, in plan
// order. A checkpoint that cannot be read is an error.
func Statuses(p *plan.Plan, store *state.Store) ([]*Status, error) {
	cps, atts, err := loadAll(p, store)
	if err != nil {
		return nil, err
	}
	byID := map[string]*Status{}
	out := make([]*Status, 0, len(p.Steps))
	refs := sourceRefs(p, cps, atts)
	for i, s := range p.Steps {
		st, err := evaluate(s, cps[i], atts[i], byID)
		if err != nil {
			return nil, err
		}
		if st.State == Done || st.State == Stale { // stale: so that explain says it all
			if err := checkTrees(st, store, p.WorkDir, refs[s.ID]); err != nil {
				return nil, err
			}
		}
		byID[s.ID] = st
		out = append(out, st)
	}
	return out, nil
}

// loadAll reads every step's checkpoint, several at a time: on a no-op
// rerun of a large recipe this is where the time goes. A step with no
// checkpoint also has its last attempt read (a step with one has no
// attempt that matters: success removes it).
func loadAll(p *plan.Plan, store *state.Store) ([]*state.Checkpoint, []*state.Attempt, error) {
	cps := make([]*state.Checkpoint, len(p.Steps))
	atts := make([]*state.Attempt, len(p.Steps))
	errs := make([]error, len(p.Steps))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cps[i], errs[i] = store.Load(p.Steps[i].ID)
				if cps[i] == nil && errs[i] == nil {
					atts[i], errs[i] = store.LoadAttempt(p.Steps[i].ID)
				}
			}
		}()
	}
	for i := range p.Steps {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, nil, fmt.Errorf("step %s: %w", p.Steps[i].ID, err)
		}
	}
	return cps, atts, nil
}

// evaluate decides one step's state; its dependencies were evaluated first.
func evaluate(s *plan.Step, cp *state.Checkpoint, att *state.Attempt, deps map[string]*Status) (*Status, error) {
	st := &Status{Step: s, Checkpoint: cp, State: Done}
	if cp == nil && att != nil {
		st.Attempt, st.State = att, attemptState(att)
		st.Reasons = []string{st.Detail()}
		return st, nil
	}
	if cp == nil {
		st.State = Pending
		st.Reasons = append(st.Reasons, "never completed")
		for _, d := range s.Deps {
			if deps[d].State != Done {
				st.Reasons = []string{"waiting for " + d}
				break
			}
		}
		return st, nil
	}
	if cp.Signature != s.Signature {
		if err := cp.DecodeInputs(); err != nil {
			return nil, err
		}
		st.State = Stale
		st.Changes = diff(cp.Inputs, s.Inputs)
		for _, c := range st.Changes {
			st.Reasons = append(st.Reasons, c.Reason())
		}
		if len(st.Changes) == 0 {
			st.Reasons = append(st.Reasons, "signature changed")
		}
	}
	for _, d := range s.Deps {
		ds := deps[d]
		switch {
		case ds.State != Done:
			if !hasChange(st.Changes, "after "+d) {
				st.Reasons = append(st.Reasons, fmt.Sprintf("upstream %s is %s", d, ds.State))
			}
			st.State = Stale
		case ds.Checkpoint.Build != cp.Deps[d]:
			st.Reasons = append(st.Reasons, fmt.Sprintf("upstream %s ran again since", d))
			st.State = Stale
		}
	}
	for _, o := range s.Outputs {
		if cp.OutputTrees != nil {
			break // checkTrees holds them to their snapshots
		}
		if _, err := os.Lstat(o); err != nil {
			st.Reasons = append(st.Reasons, "output "+o+" is missing")
			st.State = Stale
		}
	}
	return st, nil
}

func hasChange(cs []Change, key string) bool {
	for _, c := range cs {
		if c.Key == key {
			return true
		}
	}
	return false
}

// diff lists the inputs that differ, sorted by key.
func diff(old, cur map[string]string) []Change {
	var out []Change
	for k, v := range cur {
		o, ok := old[k]
		switch {
		case !ok:
			out = append(out, Change{Key: k, New: v, Added: true})
		case o != v:
			out = append(out, Change{Key: k, Old: o, New: v})
		}
	}
	for k, o := range old {
		if _, ok := cur[k]; !ok {
			out = append(out, Change{Key: k, Old: o, Removed: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Reason says in a few words what changed.
func (c Change) Reason() string {
	what := describeKey(c.Key)
	switch {
	case c.Added:
		return what + " added"
	case c.Removed:
		return what + " removed"
	case strings.HasPrefix(c.Key, "env."):
		return fmt.Sprintf("%s changed: %q → %q", what, short(c.Old), short(c.New))
	case strings.HasPrefix(c.Key, "source"):
		return fmt.Sprintf("%s changed: %s → %s", what, short(c.Old), short(c.New))
	case c.Key == executor.InputRootfsPackages:
		// A tree this cache lacks: its packages are unknown, not changed.
		if why, missing := executor.TreeMissing(c.New); missing {
			return "root file system not in this cache: " + why
		}
		return fmt.Sprintf("%s changed: %s", what, short(strings.Join(PackageChanges(c.Old, c.New), ", ")))
	case strings.HasPrefix(c.Key, plan.ToolInputPrefix):
		return fmt.Sprintf("%s changed: %s", what, toolid.Describe(c.Old, c.New))
	}
	return what + " changed"
}

// PackageChanges compares two package lists of a root file system (lines
// "name:arch version") and says what changed, one entry per package:
// "+name:arch version", "-name:arch version" or "name:arch old → new".
func PackageChanges(old, cur string) []string {
	parse := func(s string) (map[string]string, []string) {
		m := map[string]string{}
		var names []string
		for _, line := range strings.Split(s, "\n") {
			name, ver, _ := strings.Cut(strings.TrimSpace(line), " ")
			if name != "" {
				m[name] = ver
				names = append(names, name)
			}
		}
		return m, names
	}
	o, oNames := parse(old)
	n, nNames := parse(cur)
	var out []string
	for _, name := range nNames {
		switch ov, ok := o[name]; {
		case !ok:
			out = append(out, "+"+name+" "+n[name])
		case ov != n[name]:
			out = append(out, name+" "+ov+" → "+n[name])
		}
	}
	for _, name := range oNames {
		if _, ok := n[name]; !ok {
			out = append(out, "-"+name+" "+o[name])
		}
	}
	sort.Strings(out)
	return out
}

// describeKey turns a signature input's key into words.
func describeKey(k string) string {
	switch {
	case k == "script":
		return "command"
	case strings.HasPrefix(k, "env."):
		return "env " + strings.TrimPrefix(k, "env.")
	case strings.HasPrefix(k, "after "):
		return "upstream step " + strings.TrimPrefix(k, "after ")
	case k == "format":
		return "bootstrap's signature format"
	case k == executor.InputRootfsPackages:
		return "root file system packages"
	case k == executor.InputExecutor:
		return "where the step runs"
	}
	return k
}

func short(s string) string {
	s = strings.ReplaceAll(s, "\n", "⏎")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
