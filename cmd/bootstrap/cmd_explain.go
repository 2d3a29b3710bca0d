package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "say what changed since a step's checkpoint, input by input",
		ArgsUsage: "RECIPE STEP",
		Flags:     append(planCacheFlags(), cacheFlags(false)...),
		Action: func(c *cli.Context) error {
			a, err := args(c, 2, 2, "RECIPE STEP")
			if err != nil {
				return err
			}
			return runExplain(c.Context, planOptionsFrom(c), cacheConfigFrom(c), c.App.Writer, a[0], a[1])
		},
	}
}

// runExplain prints a step's state and every input that changed since its
// checkpoint; a changed command is shown as a line diff.
func runExplain(ctx context.Context, o planOptions, bc runner.CacheConfig, out io.Writer, path, step string) error {
	cfg := o.config(path)
	cfg.BuildCache = bc
	s, err := runner.Open(ctx, cfg)
	if err != nil {
		return err
	}
	st, err := s.Status(step)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s\n", st.Step.ID, st.State)
	if n := st.Step.SandboxNote(); n != "" {
		fmt.Fprintf(out, "  outside the sandbox: %s\n", n)
	}
	if st.Checkpoint != nil {
		cpu := ""
		if st.Checkpoint.CPUSeconds > 0 {
			cpu = fmt.Sprintf(" (CPU %.1fs)", st.Checkpoint.CPUSeconds)
		}
		fmt.Fprintf(out, "  last finished %s in %.1fs%s\n", st.Checkpoint.Finished.Format("2006-01-02 15:04:05 UTC"), st.Checkpoint.Seconds, cpu)
	}
	for _, r := range st.Reasons {
		fmt.Fprintf(out, "  - %s\n", r)
	}
	if st.State != runner.Done {
		if err := explainRestore(ctx, s, st, out); err != nil {
			return err
		}
	}
	for _, c := range st.Changes {
		fmt.Fprintf(out, "\n%s:\n", c.Key)
		for _, l := range c.Lines() {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
	return nil
}

// explainRestore says whether a run with the same --cache-from would
// restore the step's component instead of running it.
func explainRestore(ctx context.Context, s *runner.Session, st *runner.Status, out io.Writer) error {
	sts, err := s.Statuses()
	if err != nil {
		return err
	}
	rs, err := s.Restorable(ctx, sts)
	if err != nil {
		return err
	}
	for _, r := range rs {
		switch {
		case r.Component != st.Step.Component:
		case r.From != "" && r.After != "":
			fmt.Fprintf(out, "  restorable from %s (signed by %s): a run restores %s once %s is built\n", r.From, r.Signer[:16], r.Component, r.After)
		case r.From != "":
			fmt.Fprintf(out, "  restorable from %s (signed by %s): a run restores %s instead of running it\n", r.From, r.Signer[:16], r.Component)
		default:
			fmt.Fprintf(out, "  not restorable: %s\n", strings.Join(r.Why, "; "))
		}
	}
	return nil
}
