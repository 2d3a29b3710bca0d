package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/state"
)

func cleanCommand() *cli.Command {
	return &cli.Command{
		Name:      "clean",
		Usage:     "forget checkpoints (and trees) from STEP on, or the whole work dir",
		ArgsUsage: "RECIPE [STEP]",
		Description: "With STEP, the checkpoints of STEP and every step after it are removed; the\n" +
			"source tree goes too when STEP is a fetch or patch step, and the build dir when\n" +
			"STEP is a component's first own step. Without STEP the whole work dir is removed.\n" +
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

// runClean removes state under the work dir's lock, so it cannot pull the
// floor from under a running build. It returns a *state.LockedError when
// a run holds the lock.
func runClean(_ context.Context, o planOptions, out io.Writer, path, step string) error {
	p, err := loadPlan(path, o)
	if err != nil {
		return err
	}
	lock, err := state.Acquire(p.WorkDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	if step == "" {
		entries, err := os.ReadDir(p.WorkDir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			switch e.Name() {
			case "lock":
				continue
			case "edit":
				// `patch edit` work trees may hold commits not saved as
				// patches yet; they are the porter's work, not ours.
				fmt.Fprintf(out, "kept %s: patch work trees (remove it by hand once saved)\n", filepath.Join(p.WorkDir, "edit"))
				continue
			}
			if err := os.RemoveAll(filepath.Join(p.WorkDir, e.Name())); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "removed the builds, sources, logs and checkpoints in %s\n", p.WorkDir)
		return nil
	}
	ids, err := runner.StepsFrom(p, step)
	if err != nil {
		return &usageError{err.Error()}
	}
	store := state.Open(p.WorkDir)
	firstRun := map[string]bool{}
	for _, s := range p.Steps {
		if s.Kind == plan.KindRun && !firstRun[s.Component] {
			firstRun[s.Component] = true
			firstRun[s.ID] = true
		}
	}
	for _, id := range ids {
		s := p.Step(id)
		if err := store.Remove(id); err != nil {
			return err
		}
		if err := os.Remove(runner.LogPath(p.WorkDir, id)); err != nil && !os.IsNotExist(err) {
			return err
		}
		switch {
		case s.Kind == plan.KindFetch || s.Kind == plan.KindPatch:
			if err := os.RemoveAll(s.SrcDir); err != nil {
				return err
			}
		case firstRun[id]:
			if err := os.RemoveAll(s.BuildDir); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "forgot %s\n", id)
	}
	return nil
}
