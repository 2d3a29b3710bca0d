package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// runOptions are the flags of `bootstrap run`.
type runOptions struct {
	planOptions
	sourceOptions
	runner.Selection
	KeepGoing bool
	DryRun    bool
	Verbose   bool
	// Plain forces timestamped lines even on a terminal.
	Plain bool
	// SkipDoctor skips the host checks before the run.
	SkipDoctor bool
	// Quiet (the global --quiet) prints only failures and the summary.
	Quiet bool
}

func runCommand() *cli.Command {
	flags := append(planFlags(), sourceFlags()...)
	flags = append(flags,
		&cli.StringFlag{Name: "from", Usage: "rerun from `STEP` on (the steps before it must have finished once)"},
		&cli.StringFlag{Name: "to", Usage: "stop after `STEP` (and run only what it needs)"},
		&cli.StringSliceFlag{Name: "only", Usage: "run just `STEP` (repeatable; a component name means all its steps)"},
		&cli.StringSliceFlag{Name: "force", Usage: "rerun `STEP` even if it is done (repeatable)"},
		&cli.BoolFlag{Name: "force-all", Usage: "rerun every selected step"},
		&cli.BoolFlag{Name: "keep-going", Aliases: []string{"k"}, Usage: "after a failure, run what does not depend on it"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would run and why; run nothing"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show every step's output, not just its log"},
		&cli.BoolFlag{Name: "plain", Usage: "timestamped lines instead of a progress bar"},
		&cli.BoolFlag{Name: "skip-doctor", Usage: "do not check the host before running"},
	)
	return &cli.Command{
		Name:      "run",
		Usage:     "build a recipe, resuming where the last run stopped",
		ArgsUsage: "RECIPE",
		Description: "Steps are named component:step (e.g. go:make); a component name alone means\n" +
			"its last step for --to, its first for --from and all of its steps for --only and --force.\n" +
			"On failure, the step, its exit status, the last 40 lines of its log and the log's path are shown.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "RECIPE")
			if err != nil {
				return err
			}
			o := runOptions{
				planOptions: planOptionsFrom(c), sourceOptions: sourceOptionsFrom(c),
				Selection: runner.Selection{From: c.String("from"), To: c.String("to"), Only: c.StringSlice("only"),
					Force: c.StringSlice("force"), ForceAll: c.Bool("force-all")},
				KeepGoing: c.Bool("keep-going"), DryRun: c.Bool("dry-run"), Verbose: c.Bool("verbose"),
				Plain: c.Bool("plain"), SkipDoctor: c.Bool("skip-doctor"), Quiet: c.Bool("quiet"),
			}
			return runRun(c.Context, o, c.App.Writer, c.App.ErrWriter, a[0])
		},
	}
}

// runRun runs a recipe and reports a failure's log tail on errOut. It
// returns the run's error for main to map to an exit code.
func runRun(ctx context.Context, o runOptions, out, errOut io.Writer, path string) error {
	p, host, err := loadPlanHost(path, o.planOptions, true)
	if err != nil {
		return err
	}
	if !o.SkipDoctor && !o.DryRun {
		if err := preflight(ctx, p, host, o.emulateOptions, out); err != nil {
			return err
		}
	}
	var place executor.Executor
	if o.emulating() && !o.DryRun {
		// The root file system's layer lives in the work dir and may be
		// reset: make sure it is a work dir first.
		if err := workdir.Prepare(p.WorkDir, p.Recipe.Name.Value, p.Target, sayTo(out)); err != nil {
			return err
		}
		x, err := o.prepare(ctx, p, host, o.Offline, out)
		if err != nil {
			return err
		}
		if p, err = recompile(p, o.planOptions, host, x.Inputs()); err != nil {
			return err
		}
		place = x
	}
	sources, err := o.sourceOptions.set(nil) // the step display already shows fetches
	if err != nil {
		return err
	}
	if o.Offline && !o.DryRun {
		if err := checkPendingOffline(ctx, p, o.Selection, sources); err != nil {
			return err
		}
	}
	pr := progress.Choose(out, progress.Options{Plain: o.Plain, Verbose: o.Verbose, Quiet: o.Quiet}, os.Getenv)
	opts := runner.Options{
		Selection: o.Selection, Jobs: o.Jobs, KeepGoing: o.KeepGoing, DryRun: o.DryRun,
		Printer: pr, Sources: sources, ApplyPatch: applyPatch, CheckRequirement: checkRequirement,
		Executor: place,
		Verify:   o.sourceOptions.verifier(sources),
	}
	if o.Verbose {
		opts.Verbose = out
	}
	started := time.Now()
	sum, err := runner.Run(ctx, p, opts)
	cache, _ := cacheDir(o.Cache)
	// The record is written whatever the outcome, even after Ctrl-C.
	if rerr := writeRecord(context.WithoutCancel(ctx), p, o, place, cache, started, sum, err); rerr != nil {
		fmt.Fprintln(errOut, "bootstrap:", rerr)
		if err == nil {
			err = rerr
		}
	}
	var failed *runner.FailedError
	if errors.As(err, &failed) {
		reportFailures(errOut, failed)
	}
	if err == nil && !o.DryRun && len(sum.Ran) > 0 {
		fmt.Fprintf(out, "ran %d of %d steps; work dir %s\n", len(sum.Ran), sum.Total, p.WorkDir)
	}
	return err
}

// checkPendingOffline checks the sources of the selected fetch steps that
// are not done yet; done ones are in the cache already and are not read
// again, and those of steps outside --to/--from/--only are not needed.
func checkPendingOffline(ctx context.Context, p *plan.Plan, sel runner.Selection, sources source.Set) error {
	selected, err := sel.Selected(p)
	if err != nil {
		return err
	}
	sts, err := runner.Statuses(p, state.Open(p.WorkDir))
	if err != nil {
		return err
	}
	var pending []*plan.Step
	for _, st := range sts {
		if (st.Step.Kind == plan.KindFetch || st.Step.Kind == plan.KindVerify) && st.State != runner.Done && selected[st.Step.ID] {
			pending = append(pending, st.Step)
		}
	}
	return checkOffline(ctx, pending, sources)
}

// reportFailures prints the tail of each failed step's log; main then
// prints the one-line summary (step, exit status, log path) last, where a
// porter's eye lands.
func reportFailures(w io.Writer, f *runner.FailedError) {
	for _, se := range f.Failed {
		if len(se.Tail) > 0 {
			fmt.Fprintf(w, "\n--- %s: last %d lines of %s ---\n%s\n--- end of log ---\n", se.Step, len(se.Tail), se.Log, strings.Join(se.Tail, "\n"))
		}
	}
	if len(f.Skipped) > 0 {
		fmt.Fprintf(w, "not run because of the failure: %s\n", strings.Join(f.Skipped, ", "))
	}
	if len(f.Failed) > 1 {
		for _, se := range f.Failed {
			fmt.Fprintln(w, se.Error())
		}
	}
}
