package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/state"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "show each step: done, stale (and why) or pending, with the time it took last",
		ArgsUsage: "RECIPE",
		Flags:     planCacheFlags(),
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "RECIPE")
			if err != nil {
				return err
			}
			return runPlan(c.Context, planOptionsFrom(c), c.App.Writer, a[0])
		},
	}
}

// runPlan prints one line per step. It returns recipe and checkpoint
// errors.
func runPlan(_ context.Context, o planOptions, out io.Writer, path string) error {
	p, err := loadPlan(path, o)
	if err != nil {
		return err
	}
	sts, err := runner.Statuses(p, state.Open(p.WorkDir))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	// CPU is the last run's CPU time: on a busy machine, or under
	// emulation, it says more about a step's cost than the wall time.
	fmt.Fprintln(tw, "STEP\tSTATE\tLAST\tCPU\tWHY")
	counts := map[runner.State]int{}
	for _, st := range sts {
		last := "-"
		if eta := st.ETA(); eta > 0 || st.Checkpoint != nil {
			last = progress.Round(eta)
		}
		cpu := "-"
		if st.Checkpoint != nil && st.Checkpoint.CPUSeconds > 0 {
			cpu = progress.Round(st.Checkpoint.CPU())
		}
		why := ""
		if st.State != runner.Done {
			why = strings.Join(st.Reasons, "; ")
		}
		counts[st.State]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Step.ID, st.State, last, cpu, why)
	}
	tw.Flush()
	fmt.Fprintf(out, "%d steps: %d done, %d stale, %d pending (work dir %s)\n",
		len(sts), counts[runner.Done], counts[runner.Stale], counts[runner.Pending], p.WorkDir)
	return nil
}
