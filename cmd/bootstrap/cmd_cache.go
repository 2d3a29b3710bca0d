package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner/source/fetch"
	"github.com/porterkit/bootstrap/runner/source/gitsrc"
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
		}, {
			Name:      "add-git",
			Usage:     "store commits of a git repository you already have in the cache, as the repository at --url",
			ArgsUsage: "DIR [COMMIT|TAG|BRANCH...]",
			Description: "DIR is a clone or a bare mirror on this machine. A recipe source `git: URL` with a\n" +
				"commit: that DIR holds is then satisfied from the cache, even --offline. Each COMMIT\n" +
				"(a full hash) or ref of DIR is copied with depth 1 (a tag comes with it, so the\n" +
				"recipe's ref: is checked too); with none, every branch and tag is copied with its\n" +
				"whole history. A commit DIR does not hold is an error. A commit is the same in every\n" +
				"fork, so a fork that keeps upstream's tags serves for upstream's URL.",
			Flags: []cli.Flag{
				cacheFlag(),
				&cli.StringFlag{Name: "url", Usage: "the repository `URL` the recipes name (git: URL)"},
			},
			Action: func(c *cli.Context) error {
				a, err := args(c, 1, -1, "--url URL DIR [COMMIT|TAG|BRANCH...]")
				if err != nil {
					return err
				}
				if c.String("url") == "" {
					// Checked here, not with Required: urfave/cli would
					// print the whole help instead of one line.
					return &usageError{"cache add-git: --url URL is required: the repository URL the recipes name (git: URL)"}
				}
				return runCacheAddGit(c.Context, c.String("cache"), c.App.Writer, c.String("url"), a[0], a[1:])
			},
		}},
	}
}

// runCacheAddGit seeds the git cache of url from dir and prints
// "commit  refs" for every commit it holds now.
func runCacheAddGit(ctx context.Context, cacheFlag string, out io.Writer, url, dir string, wants []string) error {
	cache, err := cacheDir(cacheFlag)
	if err != nil {
		return err
	}
	f := gitsrc.New(gitsrc.Options{CacheDir: cache, Git: os.Getenv("BOOTSTRAP_GIT")})
	res, err := f.Seed(ctx, dir, url, wants, nil)
	for _, r := range res {
		fmt.Fprintf(out, "%s  %s\n", r.Commit, strings.Join(r.Refs, " "))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d commit(s) of %s cached as %s\n", len(res), dir, url)
	return nil
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
