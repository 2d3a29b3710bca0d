package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

func fetchCommand() *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download and verify every source of a recipe into the cache; build nothing",
		ArgsUsage: "RECIPE",
		Description: "Run it on a machine with network, then copy the cache to a board without one and\n" +
			"`bootstrap run --offline` there. Any target can be fetched on any host.",
		Flags: append(planFlags(), sourceFlags()...),
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "RECIPE")
			if err != nil {
				return err
			}
			return runFetch(c.Context, planOptionsFrom(c), sourceOptionsFrom(c), c.App.Writer, a[0])
		},
	}
}

// runFetch fetches every source of the plan, going on after a failure so
// that one run names every source it could not get. It returns an error
// listing them.
func runFetch(ctx context.Context, po planOptions, so sourceOptions, out io.Writer, path string) error {
	p, err := loadPlan(path, po)
	if err != nil {
		return err
	}
	var progress io.Writer
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = os.Stderr
	}
	sources, err := so.set(progress)
	if err != nil {
		return err
	}
	problems := fetchAll(ctx, p.Steps, sources, out)
	if len(problems) > 0 {
		return fmt.Errorf("%d source(s) could not be fetched:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

// fetchAll runs Fetch for the sources of the given fetch steps, printing a
// line per source, and returns one line per failure.
func fetchAll(ctx context.Context, steps []*plan.Step, sources source.Set, out io.Writer) []string {
	var problems []string
	for _, st := range steps {
		srcs := st.Sources
		if st.Kind == plan.KindVerify {
			// The official artifact is fetched ahead like a source.
			srcs = nil
			if ref, ok := st.Verify.Source(); ok {
				srcs = append(srcs, ref)
			}
		} else if st.Kind != plan.KindFetch {
			continue
		}
		for _, src := range srcs {
			name := src.Filename
			if name == "" {
				name = src.Repo + src.Dir
			}
			if src.Kind == "gomod" {
				name = src.Module + "@" + src.Version
			}
			f, err := sources.For(src)
			if err == nil {
				err = f.Fetch(ctx, src, io.Discard)
			}
			if err != nil {
				if ctx.Err() != nil {
					return append(problems, ctx.Err().Error())
				}
				problems = append(problems, fmt.Sprintf("%s (%s, %s): %v", st.ID, name, src.Pos, err))
				continue
			}
			fmt.Fprintf(out, "ok  %s  %s  %s\n", st.ID, src.Identity, name)
		}
	}
	return problems
}

// checkOffline is run's pre-flight with --offline: every source of a fetch
// step that still has to run must be in the cache or a local mirror, and a
// run that would stop halfway for want of one does not start; the error
// names every missing source.
func checkOffline(ctx context.Context, pending []*plan.Step, sources source.Set) error {
	problems := fetchAll(ctx, pending, sources, io.Discard)
	if len(problems) == 0 {
		return nil
	}
	missing := 0
	for _, pr := range problems {
		if strings.Contains(pr, fetch.ErrMissingOffline.Error()) {
			missing++
		}
	}
	err := fmt.Errorf("--offline: %d source(s) unavailable, nothing was run:\n  %s", len(problems), strings.Join(problems, "\n  "))
	if missing > 0 {
		err = fmt.Errorf("%w\nfill the cache with `bootstrap fetch` on a machine with network, or `bootstrap cache add FILE…`", err)
	}
	return err
}
