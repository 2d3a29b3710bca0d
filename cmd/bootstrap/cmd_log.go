package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
)

func logCommand() *cli.Command {
	return &cli.Command{
		Name:      "log",
		Usage:     "print a step's log",
		ArgsUsage: "RECIPE STEP",
		Flags:     workDirFlags(),
		Action: func(c *cli.Context) error {
			a, err := args(c, 2, 2, "RECIPE STEP")
			if err != nil {
				return err
			}
			return runLog(c.Context, planOptionsFrom(c), c.App.Writer, a[0], a[1])
		},
	}
}

// runLog copies the step's log to out. A step that never ran is an error
// saying so.
func runLog(ctx context.Context, o planOptions, out io.Writer, path, step string) error {
	s, err := o.open(ctx, path)
	if err != nil {
		return err
	}
	if _, err := s.Step(step); err != nil {
		return err
	}
	p := s.Plan()
	f, err := os.Open(runner.LogPath(p.WorkDir, step))
	if os.IsNotExist(err) {
		return fmt.Errorf("step %s has no log: it has not run in %s", step, p.WorkDir)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(out, f)
	return err
}
