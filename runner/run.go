package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/state"
)

// Options control a run.
type Options struct {
	Selection
	// Jobs is how many build (patch and run) steps may run at once;
	// default 1.
	Jobs int
	// FetchJobs is how many fetch steps may run at once, alongside builds;
	// default 4.
	FetchJobs int
	// KeepGoing runs what does not depend on a failed step before
	// reporting the failures.
	KeepGoing bool
	// DryRun says what would run, and why, without running anything.
	DryRun bool
	// Verbose, when set, receives every step's output as well as its log.
	Verbose io.Writer
	// LogCap bounds each step's log file; zero means the default (see
	// LogCap).
	LogCap LogCap
	// Printer shows progress; required.
	Printer progress.Printer
	// Sources fetch and materialize each kind of source.
	Sources source.Set
	// ApplyPatch applies one patch entry to tree and returns a record of
	// how it applied (stored in the checkpoint).
	ApplyPatch func(ctx context.Context, tree string, p plan.Patch, log io.Writer) (any, error)
	// CheckRequirement checks a version requirement before a step runs,
	// with the tool looked up and run where the step will run.
	CheckRequirement func(ctx context.Context, r plan.Requirement, env []string, place executor.Executor) error
	// Executor runs the run steps' commands; nil means this host. Its
	// Inputs must have been given to plan.Compile.
	Executor executor.Executor
	// Verify runs a verify step: it compares the artifact with the
	// official one and returns a record of the result (stored in the
	// checkpoint), or an error listing what differs.
	Verify func(ctx context.Context, v *plan.Verification, log io.Writer) (any, error)
	// Prepare, when set, is called once, under the lock, before the first
	// step starts and only when some step is to run (never in a dry run):
	// the checks and descriptions a run needs cost nothing when there is
	// nothing to do. An error from it stops the run before any work.
	Prepare func(ctx context.Context, toRun []*plan.Step) error
	// StepEnded, when set, is called when a step succeeded, with its
	// checkpoint about to be written: what must be taken at the step's end
	// (the provenance's digests and host facts) is taken there. An error
	// fails the step.
	StepEnded func(ctx context.Context, st *plan.Step, cp *state.Checkpoint) error
	// Restore, when set, is called under the lock with every step's
	// status before the run decides what to run (never in a dry run): it
	// may restore components from a shared cache (session_cache.go),
	// running a step through run (its verify step). restored says the
	// statuses must be read again.
	Restore func(ctx context.Context, statuses []*Status, run func(context.Context, *plan.Step) error) (restored bool, err error)
	// RestoreStep, when set, is asked before each step runs whether it
	// restored the step (and its checkpoint) instead: a component whose
	// needs were built in this run is restored when its turn comes.
	RestoreStep func(ctx context.Context, st *plan.Step) (done bool, err error)
}

// Summary is what a run did.
type Summary struct {
	// Total is the number of steps in the plan.
	Total int
	// Selected is the number of steps the selection covers: Total
	// without --to, --from or --only.
	Selected int
	// Ran lists the steps that ran (or, in a dry run, would run).
	Ran []string
	// Why maps each step in Ran to the reasons it ran.
	Why map[string][]string
}

// FailedError reports the steps that failed in a run.
type FailedError struct {
	Failed []*StepError
	// Skipped lists steps not run because something they need failed.
	Skipped []string
}

func (e *FailedError) Error() string {
	if len(e.Failed) == 1 {
		return e.Failed[0].Error()
	}
	var ids []string
	for _, f := range e.Failed {
		ids = append(ids, f.Step)
	}
	return fmt.Sprintf("%d steps failed: %s", len(e.Failed), strings.Join(ids, ", "))
}

// Unwrap gives errors.Is and errors.As the failed steps' errors.
func (e *FailedError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f
	}
	return errs
}

// Run executes the plan: it takes the work dir's lock, works out which
// steps must run, runs them in dependency order and checkpoints each one
// that succeeds. It returns a *workdir.Error when the work dir is not one
// (see package workdir) or cannot be created or locked, a
// *state.LockedError when another run holds it, a *FailedError when steps
// failed, and an *InterruptedError naming the steps it stopped when ctx is
// cancelled (wrapping context.Cause(ctx), e.g. a *SignalError).
func Run(ctx context.Context, p *plan.Plan, opts Options) (*Summary, error) {
	lock, err := openWorkDir(p, opts.Printer)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if !opts.DryRun {
		reapLeftovers(p.WorkDir, opts.Printer)
	}
	store := state.Open(p.WorkDir)
	statuses, err := Statuses(p, store)
	if err != nil {
		return nil, err
	}
	if opts.Restore != nil && !opts.DryRun {
		if opts.Executor == nil {
			opts.Executor = executor.Host{}
		}
		sch := &scheduler{p: p, opts: opts, store: store, statuses: index(statuses)}
		restored, err := opts.Restore(ctx, statuses, sch.execute)
		if err != nil {
			return nil, err
		}
		if restored {
			if statuses, err = Statuses(p, store); err != nil {
				return nil, err
			}
		}
	}
	if !opts.DryRun {
		// Only a cost saving (treecheck.go): a failure is not the run's.
		if err := RefreshFingerprints(store, statuses); err != nil {
			opts.Printer.Printf("%v", err)
		}
	}
	sum, toRun, err := decide(p, statuses, opts.Selection)
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		for _, id := range sum.Ran {
			opts.Printer.Printf("would run %s: %s", id, strings.Join(sum.Why[id], "; "))
		}
		if len(sum.Ran) == 0 {
			opts.Printer.Printf("%s", progress.NothingToRun(sum.Total, sum.Selected))
		}
		return sum, nil
	}
	if opts.Prepare != nil && len(toRun) > 0 {
		if err := opts.Prepare(ctx, toRun); err != nil {
			return nil, err
		}
	}
	opts.Printer.Start(sum.Total, sum.Selected, len(toRun))
	defer opts.Printer.Close()
	warnEmulatedFailures(statuses, sum, opts.Printer)
	if len(toRun) == 0 {
		return sum, nil
	}
	if opts.Executor == nil {
		opts.Executor = executor.Host{}
	}
	s := &scheduler{p: p, opts: opts, store: store, statuses: index(statuses)}
	return sum, s.run(ctx, toRun)
}

func index(sts []*Status) map[string]*Status {
	m := make(map[string]*Status, len(sts))
	for _, s := range sts {
		m[s.Step.ID] = s
	}
	return m
}

// decide works out, in plan order, which steps run: a selected step runs
// when it is forced, not done, or a step it depends on runs.
func decide(p *plan.Plan, statuses []*Status, sel Selection) (*Summary, []*plan.Step, error) {
	r, err := sel.resolve(p)
	if err != nil {
		return nil, nil, &UsageError{Err: err}
	}
	byID := index(statuses)
	var missing []string
	for id := range r.external {
		if byID[id].Checkpoint == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, nil, &UsageError{Err: fmt.Errorf("the selected steps need %s, which never completed; run without --from/--only first, or include them", strings.Join(missing, ", "))}
	}
	sum := &Summary{Total: len(p.Steps), Why: map[string][]string{}}
	willRun := map[string]bool{}
	var toRun []*plan.Step
	for _, st := range statuses {
		id := st.Step.ID
		if !r.selected[id] {
			continue
		}
		sum.Selected++
		var why []string
		if r.forced[id] {
			why = append(why, "forced")
		}
		switch {
		case st.Attempt != nil:
			// "exit 3 at 16:40, log …" needs its state to read as a reason.
			why = append(why, "last attempt "+string(st.State)+": "+st.Detail())
		case st.State != Done:
			why = append(why, st.Reasons...)
		}
		for _, d := range st.Step.Deps {
			if willRun[d] && st.State == Done {
				why = append(why, "upstream "+d+" runs")
				break
			}
		}
		if len(why) == 0 {
			continue
		}
		willRun[id] = true
		toRun = append(toRun, st.Step)
		sum.Ran = append(sum.Ran, id)
		sum.Why[id] = why
	}
	return sum, toRun, nil
}

// warnEmulatedFailures says, of each step about to run whose last attempt
// failed under an emulator, that the failure may have been the
// emulator's: qemu has failed valid builds that passed when rerun.
func warnEmulatedFailures(statuses []*Status, sum *Summary, pr progress.Printer) {
	for _, st := range statuses {
		a := st.Attempt
		if _, runs := sum.Why[st.Step.ID]; runs && st.State == Failed && a != nil && a.Emulator != "" {
			pr.Printf("%s: its last attempt failed under emulation by %s; the failure may not be the build's: running it again", st.Step.ID, a.Emulator)
		}
	}
}

// UsageError is a run that cannot start because of how it was asked for.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// scheduler runs steps as their dependencies finish, with separate limits
// for fetch steps (network-bound) and build steps (CPU-bound), so that a
// download overlaps the previous component's build.
type scheduler struct {
	p        *plan.Plan
	opts     Options
	store    *state.Store
	statuses map[string]*Status
	// scratch, set by --check (check.go), maps the checked component's
	// trees to the scratch trees mounted at their paths.
	scratch map[string]string
}

type outcome struct {
	id  string
	err error
}

func (s *scheduler) run(ctx context.Context, steps []*plan.Step) error {
	limits := map[plan.Kind]int{plan.KindFetch: orDefault(s.opts.FetchJobs, 4), plan.KindRun: orDefault(s.opts.Jobs, 1)}
	class := func(st *plan.Step) plan.Kind {
		if st.Kind == plan.KindFetch {
			return plan.KindFetch
		}
		return plan.KindRun
	}
	inRun := map[string]bool{}
	for _, st := range steps {
		inRun[st.ID] = true
	}
	waiting := map[string]int{} // unfinished dependencies within this run
	for _, st := range steps {
		for _, d := range st.Deps {
			if inRun[d] {
				waiting[st.ID]++
			}
		}
	}
	busy := map[plan.Kind]int{}
	results := make(chan outcome)
	failed := &FailedError{}
	blocked := map[string]bool{}
	finished, running := 0, 0
	stopping := false
	started := map[string]bool{}
	var interrupted []string // steps stopped by the cancellation
	for finished < len(steps) {
		if ctx.Err() != nil {
			stopping = true
		}
		for _, st := range steps { // plan order: earlier components first
			if stopping || started[st.ID] || blocked[st.ID] || waiting[st.ID] > 0 || busy[class(st)] >= limits[class(st)] {
				continue
			}
			started[st.ID] = true
			busy[class(st)]++
			running++
			go func(st *plan.Step) {
				results <- outcome{id: st.ID, err: s.execute(ctx, st)}
			}(st)
		}
		if running == 0 {
			break
		}
		o := <-results
		running--
		finished++
		st := s.p.Step(o.id)
		busy[class(st)]--
		if o.err == nil {
			for _, other := range steps {
				for _, d := range other.Deps {
					if d == o.id {
						waiting[other.ID]--
					}
				}
			}
			continue
		}
		var se *StepError
		if !errors.As(o.err, &se) {
			se = &StepError{Step: o.id, Err: o.err}
		}
		if ctx.Err() != nil {
			// Cancelled: the step was stopped, not broken.
			s.opts.Printer.Printf("interrupted %s", o.id)
			interrupted = append(interrupted, o.id)
			stopping = true
			continue
		}
		s.opts.Printer.StepFailed(o.id, se.Err)
		failed.Failed = append(failed.Failed, se)
		if !s.opts.KeepGoing {
			stopping = true
			continue
		}
		for id := range descendants(s.p, o.id) {
			if inRun[id] && id != o.id && !blocked[id] {
				blocked[id] = true
				finished++
				failed.Skipped = append(failed.Skipped, id)
			}
		}
	}
	if ctx.Err() != nil {
		order := map[string]int{}
		for i, st := range steps {
			order[st.ID] = i
		}
		sort.Slice(interrupted, func(i, j int) bool { return order[interrupted[i]] < order[interrupted[j]] })
		return &InterruptedError{Cause: context.Cause(ctx), Steps: interrupted}
	}
	if len(failed.Failed) > 0 {
		sort.Strings(failed.Skipped)
		return failed
	}
	return nil
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
