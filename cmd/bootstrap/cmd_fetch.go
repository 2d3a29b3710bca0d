package main

import (
	"context"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/porterkit/bootstrap/runner"
)

func fetchCommand() *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download and verify every source of a recipe into the cache; build nothing",
		ArgsUsage: "RECIPE",
		Description: "Run it on a machine with network, then copy the cache to a board without one and\n" +
			"`bootstrap run --offline` there. Any target can be fetched on any host.",
		Flags: append([]cli.Flag{targetFlag()}, sourceFlags()...),
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
	cfg := po.config(path)
	cfg.Sources = so.SourceConfig
	s, err := runner.Open(ctx, cfg)
	if err != nil {
		return err
	}
	var progress io.Writer
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = os.Stderr
	}
	return s.Fetch(ctx, out, progress)
}
