package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/doctor"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/patch"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/require"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/verify"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// ErrHostChecks is wrapped by the error of a run whose host checks
// failed (and by `bootstrap doctor`'s): the host lacks something.
var ErrHostChecks = errors.New("host checks failed")

// RunOptions are how a session's run is asked for.
type RunOptions struct {
	Selection
	KeepGoing bool
	DryRun    bool
	// SkipDoctor skips the host checks before the run.
	SkipDoctor bool
	// Printer shows progress; required.
	Printer progress.Printer
	// Verbose, when set, receives every step's output as well as its log.
	Verbose io.Writer
	// Out receives the host checks' report when they fail and the root
	// file system's build lines.
	Out io.Writer
	// ErrOut receives a provenance record's error after a failed run
	// (whose own error is what the run returns).
	ErrOut io.Writer
}

// Run runs the plan's selected steps that are not done. Only when a step
// is to run does it check the host (`bootstrap doctor`'s checks, unless
// SkipDoctor), check an offline run's sources, and write the provenance
// record afterwards, whatever the outcome: a rerun with nothing to do
// costs no more than reading the checkpoints and leaves the record of the
// last real run as it is. It returns Run's errors, an error wrapping
// ErrHostChecks, or the record's error when only that failed.
func (s *Session) Run(ctx context.Context, o RunOptions) (*Summary, error) {
	cache, err := CacheDir(s.cfg.Cache)
	if err != nil {
		return nil, err
	}
	sources := NewSources(cache, s.cfg.Sources, nil) // the step display already shows fetches
	checked := false
	if !s.ready && !o.DryRun {
		// The root file system is not built: every run step will run,
		// so check the host before minutes of mmdebstrap, then compile
		// with the built tree's packages.
		if err := s.preflight(ctx, o); err != nil {
			return nil, err
		}
		checked = true
	}
	if s.cfg.Executor.Emulating() && !o.DryRun && s.place == nil {
		// The root file system's layer lives in the work dir and may be
		// reset: make sure it is a work dir first.
		if err := workdir.Prepare(s.plan.WorkDir, s.plan.Recipe.Name.Value, s.plan.Target, o.Printer.Printf); err != nil {
			return nil, err
		}
		if s.place, err = s.openExecutor(ctx, o.Out); err != nil {
			return nil, err
		}
	}
	place := s.place
	if place == nil {
		place = s.cfg.Executor.Host()
	}
	var started time.Time
	opts := Options{
		Selection: o.Selection, Jobs: s.cfg.Jobs, KeepGoing: o.KeepGoing, DryRun: o.DryRun, Verbose: o.Verbose,
		Printer: o.Printer, Sources: sources, ApplyPatch: applyPatch, CheckRequirement: checkRequirement,
		Executor: place, Verify: verifier(sources, cache),
		Prepare: func(ctx context.Context, toRun []*plan.Step) error {
			if !checked {
				if err := s.preflight(ctx, o); err != nil {
					return err
				}
			}
			if s.cfg.Sources.Offline {
				if err := checkOffline(ctx, toRun, sources); err != nil {
					return err
				}
			}
			started = time.Now()
			return nil
		},
	}
	sum, err := Run(ctx, s.plan, opts)
	if started.IsZero() {
		return sum, err // nothing ran: the last record stays
	}
	// The record is written whatever the outcome, even after Ctrl-C.
	if rerr := s.writeRecord(context.WithoutCancel(ctx), o, cache, place, started, sum, err); rerr != nil {
		if err == nil {
			return sum, rerr
		}
		fmt.Fprintln(o.ErrOut, "bootstrap:", rerr)
	}
	return sum, err
}

// openExecutor opens the run's place, which Close closes; when the tree had to be built, the
// plan is compiled again with its package set (the only second compile,
// and only then).
func (s *Session) openExecutor(ctx context.Context, out io.Writer) (executor.Executor, error) {
	t, _ := arch.Lookup(s.plan.Target)
	place, err := s.cfg.Executor.Open(ctx, s.plan.Recipe, s.host, t, s.plan.WorkDir, s.cfg.Sources.Offline, out)
	if errors.Is(err, executor.ErrNeedsRoot) {
		return nil, &UsageError{Err: err}
	}
	if err != nil {
		return nil, err
	}
	if !s.ready {
		s.cfg.Target = s.plan.Target
		if s.plan, err = s.compile(s.plan.Recipe, place.Inputs()); err != nil {
			place.Close()
			return nil, err
		}
		s.ready = true
	}
	return place, nil
}

// preflight runs the host checks of `bootstrap doctor` and, when one
// fails, prints the report on o.Out and returns an error wrapping
// ErrHostChecks with a hint.
func (s *Session) preflight(ctx context.Context, o RunOptions) error {
	if o.SkipDoctor {
		return nil
	}
	p, em := s.plan, s.cfg.Executor
	rep, err := doctor.Check(ctx, p.Recipe, doctor.Options{WorkDir: p.WorkDir, Host: &s.host, Target: p.Target,
		Emulate: em.Emulating(), RootfsGiven: em.Rootfs != ""})
	if err != nil {
		return fmt.Errorf("host checks: %w", err)
	}
	if rep.OK() {
		return nil
	}
	fmt.Fprintln(o.Out, "the host is not ready for this recipe:")
	rep.Print(o.Out)
	hint := ""
	switch {
	case em.Emulating():
		hint = fmt.Sprintf("; `bootstrap doctor --install --emulate --target %s %s` sets emulation up", p.Target, p.Recipe.File)
	case len(rep.MissingPackages()) > 0:
		hint = fmt.Sprintf("; `bootstrap doctor --install %s` installs the missing packages", p.Recipe.File)
	}
	return fmt.Errorf("%d host check(s) failed (--skip-doctor runs anyway)%s: %w", len(rep.Failed()), hint, ErrHostChecks)
}

// writeRecord writes <work>/provenance.json for a run that started, ended
// well or not. It returns an error only when the record cannot be
// written.
func (s *Session) writeRecord(ctx context.Context, o RunOptions, cache string, place executor.Executor, started time.Time, sum *Summary, runErr error) error {
	p, c := s.plan, s.cfg
	r := provenance.Run{
		Plan: p,
		Parameters: map[string]any{
			"from": o.From, "to": o.To, "only": o.Only, "force": o.Force, "forceAll": o.ForceAll,
			"offline": c.Sources.Offline, "keepGoing": o.KeepGoing, "mirrors": c.Sources.Mirrors, "goproxy": os.Getenv("GOPROXY"),
		},
		Internal:     map[string]any{"workDir": p.WorkDir, "cache": cache, "jobs": c.Jobs},
		Started:      started,
		Finished:     time.Now(),
		InvocationID: state.NewBuildID(),
		Failed:       map[string]provenance.Failure{},
		Host:         provenance.HostFacts(ctx, p.Recipe),
		Version:      provenance.ReadVersion(),
	}
	if place != nil {
		r.Host = append(r.Host, place.Facts()...)
	}
	if sum != nil {
		r.Ran = sum.Ran
	}
	var failed *FailedError
	if errors.As(runErr, &failed) {
		for _, se := range failed.Failed {
			f := provenance.Failure{Exit: se.Exit, Error: se.Err.Error()}
			var mm *verify.MismatchError
			if errors.As(se.Err, &mm) {
				f.Verification = mm.Result
			}
			if f.Exit == 0 {
				f.Exit = 1
			}
			r.Failed[se.Step] = f
		}
	}
	st, err := provenance.Build(r)
	if err != nil {
		return fmt.Errorf("provenance record: %w", err)
	}
	return provenance.Write(p.WorkDir, st)
}

// applyPatch is the run's patch hook.
func applyPatch(ctx context.Context, tree string, p plan.Patch, log io.Writer) (any, error) {
	rec, err := patch.Apply(ctx, tree, p, log)
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// checkRequirement is the run's requires: hook.
func checkRequirement(ctx context.Context, r plan.Requirement, env []string, place executor.Executor) error {
	return require.Check(ctx, r, env, place)
}
