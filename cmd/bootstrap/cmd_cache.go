package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner/fetch"
)

func cacheCommand() *cli.Command {
	return &cli.Command{
		Name:  "cache",
		Usage: "manage the download cache",
		Subcommands: []*cli.Command{{
			Name:      "add",
			Usage:     "store files you already have in the cache under their sha256",
			ArgsUsage: "FILE...",
			Description: "A recipe source whose sha256 matches is then satisfied from the cache, even\n" +
				"--offline, whatever its URL: e.g. Debian's golang-1.19_1.19.8.orig.tar.gz for\n" +
				"https://dl.google.com/go/go1.19.8.src.tar.gz.",
			Flags: []cli.Flag{cacheFlag()},
			Action: func(c *cli.Context) error {
				a, err := args(c, 1, -1, "FILE...")
				if err != nil {
					return err
				}
				return runCacheAdd(c.Context, c.String("cache"), c.App.Writer, a)
			},
		}},
	}
}

// runCacheAdd stores each file and prints "sha256  file".
func runCacheAdd(_ context.Context, cacheFlag string, out io.Writer, files []string) error {
	cache, err := cacheDir(cacheFlag)
	if err != nil {
		return err
	}
	sums, err := fetch.CacheAdd(cache, files...)
	if err != nil {
		return err
	}
	for i, s := range sums {
		fmt.Fprintf(out, "%s  %s\n", s, files[i])
	}
	return nil
}
