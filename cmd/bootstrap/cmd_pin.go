package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner/pin"
)

func pinCommand() *cli.Command {
	return &cli.Command{
		Name:      "pin",
		Usage:     "fill in sha256: (and size:), commit: and an svn source's tree: where a recipe lacks them",
		ArgsUsage: "RECIPE",
		Description: "Downloads each unpinned url: source (into the cache) and resolves each git ref,\n" +
			"then writes the pin into the recipe in place; comments and layout are kept.",
		Flags: sourceFlags(),
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "RECIPE")
			if err != nil {
				return err
			}
			return runPin(c.Context, sourceOptionsFrom(c), c.App.Writer, a[0])
		},
	}
}

// runPin pins the recipe and prints each change.
func runPin(ctx context.Context, so sourceOptions, out io.Writer, path string) error {
	cache, err := cacheDir(so.Cache)
	if err != nil {
		return err
	}
	changes, err := pin.File(ctx, path, pin.Options{CacheDir: cache, Mirrors: so.Mirrors, Offline: so.Offline})
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		fmt.Fprintf(out, "%s: every source is already pinned\n", path)
	}
	for _, c := range changes {
		fmt.Fprintf(out, "%s:%d: component %s: %s: %s (from %s)\n", path, c.Line, c.Component, c.Key, c.Value, c.From)
	}
	return nil
}
