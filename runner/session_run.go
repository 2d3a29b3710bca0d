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
	"github.com/porterkit/bootstrap/runner/sign"
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
		place = s.cfg.Executor.Host(s.plan.WorkDir)
	}
	var started time.Time
	logCap, err := ParseLogCap(os.Getenv("BOOTSTRAP_LOG_CAP"))
	if err != nil {
		return nil, err
	}
	opts := Options{
		LogCap:    logCap,
		Selection: o.Selection, Jobs: s.cfg.Jobs, KeepGoing: o.KeepGoing, DryRun: o.DryRun, Verbose: o.Verbose,
		Printer: o.Printer, Sources: sources, ApplyPatch: applyPatch, CheckRequirement: checkRequirement,
		Executor: place, Verify: verifier(sources, cache),
		Prepare: func(ctx context.Context, toRun []*plan.Step) error {
			if !checked {
				if err := s.preflight(ctx, o); err != nil {
					return err
				}
			}
			sweepTemps(s.plan.WorkDir, cache, time.Now(), o.Printer)
			if s.cfg.Sources.Offline {
				if err := checkOffline(ctx, toRun, sources); err != nil {
					return err
				}
			}
			started = time.Now()
			return nil
		},
	}
	rec := s.recordHooks(&opts, place, cache)
	restores, err := s.cacheHooks(&opts, o.Printer, rec, &started)
	if err != nil {
		return nil, err
	}
	sum, err := Run(ctx, s.plan, opts)
	restores.ranBefore(sum)
	if !o.DryRun && ctx.Err() == nil && sum != nil { // sum is nil when the run never got the lock
		// After the lock is released: a push never holds up the next run
		// of this work dir, and its failure is a warning.
		defer s.pushFinished(context.WithoutCancel(ctx), o.Printer, rec.key)
	}
	if started.IsZero() {
		return sum, err // nothing ran: the last record stays
	}
	// The record is written whatever the outcome, even after Ctrl-C.
	if rerr := s.writeRecord(context.WithoutCancel(ctx), o, cache, rec, started, sum, err); rerr != nil {
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

// SigningKey returns bootstrap's signing key (sign.Dir, made on first
// use) after checking that it is outside the work dir and the cache, the
// places a step can read (a step's HOME is inside the work dir). Errors
// say where the key is and why it cannot be used; a key dir in one of
// those places is a *UsageError.
func SigningKey(workDir, cache string) (*sign.Key, error) {
	dir, err := sign.Dir(os.Getenv)
	if err != nil {
		return nil, err
	}
	if err := sign.Outside(dir, map[string]string{"work dir": workDir, "cache": cache}); err != nil {
		return nil, &UsageError{Err: err} // the porter's setting, like a bad flag
	}
	k, _, err := sign.LoadOrCreate(dir)
	return k, err
}

// recordHooks adds to a run's options what its signed record needs: the
// signing key, loaded (made on first use) before any work, so that a key
// that cannot be had, or sits where steps can read it, fails the run now
// rather than hours later; and, as each step ends, its outputs' digests
// and this run's host facts (gathered once, at the first step's end). It
// returns them, the key set once Prepare has run.
func (s *Session) recordHooks(opts *Options, place executor.Executor, cache string) *recording {
	rec := &recording{}
	rec.facts = provenance.NewRunFacts(s.plan.WorkDir, func(ctx context.Context) []provenance.ResourceDescriptor {
		f := provenance.HostFacts(ctx, s.plan.Recipe)
		if place != nil {
			f = append(f, place.Facts()...)
		}
		return f
	})
	prepare := opts.Prepare
	opts.Prepare = func(ctx context.Context, toRun []*plan.Step) error {
		k, err := SigningKey(s.plan.WorkDir, cache)
		if err != nil {
			return err
		}
		rec.key = k
		return prepare(ctx, toRun)
	}
	opts.StepEnded = func(ctx context.Context, st *plan.Step, cp *state.Checkpoint) error {
		return stepEnded(ctx, s.plan.WorkDir, rec.facts, st, cp)
	}
	return rec
}

// recording is what a run's signed record is made with.
type recording struct {
	key   *sign.Key
	facts *provenance.RunFacts
}

// stepEnded keeps what the record needs from a step that just succeeded:
// its outputs' digests now, and the ID of this run's host facts (gathered
// at the first step's end). Errors name the output or file.
func stepEnded(ctx context.Context, workDir string, facts *provenance.RunFacts, st *plan.Step, cp *state.Checkpoint) error {
	outs, err := provenance.OutputDigests(st.Outputs, cp)
	if err != nil {
		return err
	}
	id, err := facts.ID(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	return provenance.SaveStepEnd(workDir, &provenance.StepEnd{Step: st.ID, Build: cp.Build, Outputs: outs, HostFacts: id})
}

// writeRecord writes <work>/provenance.json, signed with the run's key, for a run
// that started, ended well or not. It returns an error only when the
// record cannot be written.
func (s *Session) writeRecord(ctx context.Context, o RunOptions, cache string, rec *recording, started time.Time, sum *Summary, runErr error) error {
	p, c := s.plan, s.cfg
	factsID, err := rec.facts.ID(ctx)
	if err != nil {
		return fmt.Errorf("provenance record: %w", err)
	}
	r := provenance.Run{
		Plan: p,
		Parameters: map[string]any{
			"from": o.From, "to": o.To, "only": o.Only, "force": o.Force, "forceAll": o.ForceAll,
			"offline": c.Sources.Offline, "keepGoing": o.KeepGoing, "mirrors": c.Sources.Mirrors, "goproxy": os.Getenv("GOPROXY"),
			"cacheFrom": c.BuildCache.From, "cacheTo": c.BuildCache.To,
		},
		Internal:     map[string]any{"workDir": p.WorkDir, "cache": cache, "jobs": c.Jobs},
		Started:      started,
		Finished:     time.Now(),
		InvocationID: state.NewBuildID(),
		Failed:       map[string]provenance.Failure{},
		HostFacts:    factsID,
		Version:      provenance.ReadVersion(),
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
	return provenance.Write(ctx, p.WorkDir, st, rec.key)
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
