package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/progress"
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
	// Check names done steps to rebuild aside and compare (--check).
	Check []string
	// BuildCache is --cache-from, --cache-to and --trust.
	BuildCache runner.CacheConfig
	// Boards are --on and its flags (cmd_board.go).
	Boards boardOptions
}

// cacheFlags are the shared build cache's flags (docs/cache.md): run has
// them all, plan and explain those that say what a run would restore.
func cacheFlags(push bool) []cli.Flag {
	f := []cli.Flag{
		&cli.StringSliceFlag{Name: "cache-from", Usage: "restore finished components from the shared cache at `URL` (file:///DIR, oci://HOST[:PORT]/REPO; repeatable; see docs/cache.md)"},
		&cli.StringSliceFlag{Name: "trust", Usage: "trust cache records signed by the public key in `FILE` (repeatable; bootstrap's own key is always trusted)"},
	}
	if push {
		f = append(f, &cli.StringFlag{Name: "cache-to", Usage: "push each component built here to the shared cache at `URL` (a failure is a warning)"})
	}
	return f
}

// cacheConfigFrom reads cacheFlags.
func cacheConfigFrom(c *cli.Context) runner.CacheConfig {
	return runner.CacheConfig{From: c.StringSlice("cache-from"), To: c.String("cache-to"), Trust: c.StringSlice("trust")}
}

func runCommand() *cli.Command {
	flags := append(append(planFlags(), sourceFlags()...), cacheFlags(true)...)
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
		&cli.StringSliceFlag{Name: "check", Usage: "rebuild done `STEP`'s component into scratch trees and compare with the checkpointed results, bit for bit (repeatable; exit 1 when they differ; see docs/emulation.md)"},
	)
	flags = append(flags, boardFlags()...)
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
				Check: c.StringSlice("check"), BuildCache: cacheConfigFrom(c), Boards: boardOptionsFrom(c),
			}
			return runRun(c.Context, o, c.App.Writer, c.App.ErrWriter, a[0])
		},
	}
}

// runRun runs a recipe and reports a failure's log tail on errOut. It
// returns the run's error for main to map to an exit code.
func runRun(ctx context.Context, o runOptions, out, errOut io.Writer, path string) error {
	if o.Boards.given() {
		return runOnBoards(ctx, o, out, path)
	}
	cfg := o.planOptions.config(path)
	cfg.Sources, cfg.Native, cfg.BuildCache = o.SourceConfig, true, o.BuildCache
	s, err := runner.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ro := runner.RunOptions{Selection: o.Selection, KeepGoing: o.KeepGoing, DryRun: o.DryRun, SkipDoctor: o.SkipDoctor,
		Printer: progress.Choose(out, progress.Options{Plain: o.Plain, Verbose: o.Verbose, Quiet: o.Quiet}, os.Getenv), Out: out, ErrOut: errOut}
	if o.Verbose {
		ro.Verbose = out
	}
	if len(o.Check) > 0 {
		_, err := s.Check(ctx, runner.CheckOptions{Steps: o.Check, RunOptions: ro})
		var failed *runner.FailedError
		if errors.As(err, &failed) {
			reportFailures(errOut, failed)
		}
		return err
	}
	sum, err := s.Run(ctx, ro)
	var failed *runner.FailedError
	if errors.As(err, &failed) {
		reportFailures(errOut, failed)
	}
	if err == nil && !o.DryRun && len(sum.Ran) > 0 {
		fmt.Fprintf(out, "ran %d of %d steps; work dir %s\n", len(sum.Ran), sum.Total, s.Plan().WorkDir)
	}
	return err
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
