package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/progress"
)

// planCmdOptions are the flags of `bootstrap plan`.
type planCmdOptions struct {
	planOptions
	// JSON prints the plan as one JSON object (see planJSONHelp).
	JSON bool
	// BuildCache is --cache-from and --trust: say what a run would restore.
	BuildCache runner.CacheConfig
}

// planJSONHelp documents `plan --json`; runner.PlanReport is its shape,
// and the tests decode it.
const planJSONHelp = `Each step is one of: done; stale (it ran, then something it depends on changed: WHY says what);
pending (never tried, or waiting for a step that is not done); failed (its last try failed:
exit status, when, and its log); running (a live run is at it: that run's pid and since when);
interrupted (its last try was stopped by a signal, or the run doing it was killed).

--json prints one object instead of the table:
  {"work_dir": "...",
   "steps": [{"id": "go:make", "component": "go", "kind": "run",
              "signature": "hex",           (sha256 of its inputs; sandboxed, independent of the work dir's path)
              "state": "done|stale|pending|failed|running|interrupted",
              "reasons": ["..."],          (why it is not done; [] when done)
              "last_seconds": 12.3,        (wall time of its last success; null if none)
              "cpu_seconds": 20.1,         (CPU time of its last success; null if none or not a command)
              "attempt": {                 (only for failed, running and interrupted steps)
                 "outcome": "started|failed|interrupted", "pid": 1234,
                 "started": "RFC 3339", "ended": "RFC 3339 (absent while running or when killed)",
                 "log": "path", "exit": 2, "error": "...", "signal": "SIGINT|SIGTERM",
                 "detail": "the same line the table prints"}}]}`

func planCommand() *cli.Command {
	return &cli.Command{
		Name:        "plan",
		Usage:       "show each step: done, stale (and why), pending, failed, running or interrupted, with the time it took last",
		ArgsUsage:   "RECIPE",
		Description: planJSONHelp,
		Flags:       append(append(planCacheFlags(), &cli.BoolFlag{Name: "json", Usage: "print the plan as JSON (shape below)"}), cacheFlags(false)...),
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "RECIPE")
			if err != nil {
				return err
			}
			return runPlan(c.Context, planCmdOptions{planOptions: planOptionsFrom(c), JSON: c.Bool("json"), BuildCache: cacheConfigFrom(c)}, c.App.Writer, a[0])
		},
	}
}

// runPlan prints one line per step, or the plan as JSON. It returns recipe
// and checkpoint errors.
func runPlan(ctx context.Context, o planCmdOptions, out io.Writer, path string) error {
	// Native as for run: a plan of steps that run would refuse to start
	// is no plan.
	cfg := o.config(path)
	cfg.Native, cfg.BuildCache = true, o.BuildCache
	s, err := runner.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	p := s.Plan()
	sts, err := s.Statuses()
	if err != nil {
		return err
	}
	if o.JSON {
		return printPlanJSON(out, p.WorkDir, sts)
	}
	printPlan(out, p.WorkDir, sts, s.Ready())
	rs, err := s.Restorable(ctx, sts)
	if err != nil {
		return err
	}
	printRestorable(out, rs)
	return nil
}

// printRestorable says, of each component that is not done, whether a run
// with the same --cache-from would restore it, and from where.
func printRestorable(out io.Writer, rs []runner.Restorable) {
	for _, r := range rs {
		if r.From != "" {
			after := ""
			if r.After != "" {
				after = ", once " + r.After + " is built here"
			}
			fmt.Fprintf(out, "%s: restorable from %s (signed by %s)%s\n", r.Component, r.From, r.Signer[:16], after)
			continue
		}
		fmt.Fprintf(out, "%s: not restorable: %s\n", r.Component, strings.Join(r.Why, "; "))
	}
}

// printPlan writes the table and a summary line.
// ready is false when an emulated plan's root file system is not built
// yet: its run steps then lack the tree's and the sandbox's inputs, which
// is not --no-sandbox.
func printPlan(out io.Writer, workDir string, sts []*runner.Status, ready bool) {
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	// CPU is the last run's CPU time: on a busy machine, or under
	// emulation, it says more about a step's cost than the wall time.
	fmt.Fprintln(tw, "STEP\tSTATE\tLAST\tCPU\tWHY")
	counts := map[runner.State]int{}
	unconfined := 0
	for _, st := range sts {
		last := "-"
		if eta := st.ETA(); eta > 0 || st.Checkpoint != nil {
			last = progress.Round(eta)
		}
		cpu := "-"
		if st.Checkpoint != nil && st.Checkpoint.CPUSeconds > 0 {
			cpu = progress.Round(st.Checkpoint.CPU())
		}
		var notes []string
		if st.State != runner.Done {
			notes = append(notes, st.Reasons...)
		}
		// A step the recipe lets out of the sandbox is marked whatever
		// its state; --no-sandbox gets one line below the table.
		switch n := st.Step.SandboxNote(); n {
		case "":
		case "no sandbox":
			if ready {
				unconfined++
			}
		default:
			notes = append(notes, "["+n+"]")
		}
		if v := st.Step.Verify; v != nil {
			notes = append(notes, "[against "+v.Describe()+"]")
		}
		why := strings.Join(notes, "; ")
		counts[st.State]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Step.ID, st.State, last, cpu, why)
	}
	tw.Flush()
	// The three states of a step that was tried are counted only when
	// present: the usual line stays short.
	extra := ""
	for _, s := range []runner.State{runner.Failed, runner.Running, runner.Interrupted} {
		if counts[s] > 0 {
			extra += fmt.Sprintf(", %d %s", counts[s], s)
		}
	}
	fmt.Fprintf(out, "%d steps: %d done, %d stale, %d pending%s (work dir %s)\n",
		len(sts), counts[runner.Done], counts[runner.Stale], counts[runner.Pending], extra, workDir)
	if !ready {
		fmt.Fprintln(out, "the root file system is not in this cache yet (or the last run used another --cache): run steps' signatures are complete once a run has built it")
	}
	if unconfined > 0 {
		fmt.Fprintf(out, "--no-sandbox: %d run steps are planned without the sandbox (unconfined; their signatures name the work dir's own path, so they match no other work dir's)\n", unconfined)
	}
}

// printPlanJSON writes the plan as one indented JSON object
// (runner.PlanReport, documented by planJSONHelp).
func printPlanJSON(out io.Writer, workDir string, sts []*runner.Status) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(runner.Report(workDir, sts)); err != nil {
		return fmt.Errorf("plan --json: %w", err)
	}
	return nil
}
