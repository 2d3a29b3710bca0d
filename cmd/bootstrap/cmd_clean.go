package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/workdir"
)

func cleanCommand() *cli.Command {
	return &cli.Command{
		Name:      "clean",
		Usage:     "forget checkpoints (and trees) from STEP on, or the whole work dir",
		ArgsUsage: "RECIPE [STEP]",
		Description: "With STEP, the checkpoints of STEP and every step after it are removed; the\n" +
			"source tree goes too when STEP is a fetch or patch step, and the build dir when\n" +
			"STEP is a component's first own step. Without STEP, what bootstrap and the recipe's\n" +
			"steps created in the work dir is removed; anything else there (and patch edit's\n" +
			"edit/) is kept and listed. A directory without the work dir marker (" + workdir.MarkerName + ")\n" +
			"is refused (exit 2); one made by an earlier bootstrap is adopted by `bootstrap run`.\n" +
			"The download cache is never touched.",
		Flags: planCacheFlags(),
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 2, "RECIPE [STEP]")
			if err != nil {
				return err
			}
			step := ""
			if len(a) == 2 {
				step = a[1]
			}
			return runClean(c.Context, planOptionsFrom(c), c.App.Writer, a[0], step)
		},
	}
}

// runClean forgets checkpoints (and trees) with runner.Clean, which
// refuses a directory that is not a work dir (a *workdir.Error, exit 2).
// It returns a *state.LockedError when a run holds the lock.
func runClean(_ context.Context, o planOptions, out io.Writer, path, step string) error {
	p, err := loadPlan(path, o)
	if err != nil {
		return err
	}
	return runner.Clean(p, step, out)
}

// sayTo adapts out to the Printf-style callback of workdir.Prepare, one
// line per message.
func sayTo(out io.Writer) func(string, ...any) {
	return func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
}
