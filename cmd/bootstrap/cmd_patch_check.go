package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner/patch/workflow"
)

func patchCheckCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "apply every patch of the recipe to its pristine source with fuzz 0, and say which do not",
		ArgsUsage: "RECIPE [COMPONENT...]",
		Description: "Each component's sources are unpacked afresh (fetched first unless --offline; with\n" +
			"--offline a source missing from the cache is reported as skipped) and its patches applied\n" +
			"one file at a time with fuzz 0, whatever fuzz the recipe allows: a patch that needs fuzz\n" +
			"has drifted from the source it was written for. The work dir is not touched. Exit\n" +
			"status 1 when a patch does not apply with fuzz 0.",
		Flags: append(planFlags(), sourceFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return &usageError{"usage: bootstrap patch check RECIPE [COMPONENT...]"}
			}
			return runPatchCheck(c.Context, planOptionsFrom(c), sourceOptionsFrom(c), c.App.Writer, c.Args().First(), c.Args().Tail())
		},
	}
}

// runPatchCheck prints one line per patch file: ok, FUZZ (applies only
// with the recipe's fuzz), FAIL, skip (after a failed one), or one line
// per component: skip (source not in the cache offline).
func runPatchCheck(ctx context.Context, o planOptions, so sourceOptions, out io.Writer, path string, comps []string) error {
	p, sources, err := patchPlan(path, o, &so)
	if err != nil {
		return err
	}
	return workflow.Check(ctx, p, sources, comps, func(c workflow.Checked) {
		name := display(c.File)
		if c.InSource {
			name = c.File + " (in the source)"
		}
		switch c.Verdict {
		case workflow.OK:
			fmt.Fprintf(out, "ok    %s  %s\n", c.Component, name)
		case workflow.Fuzz:
			fmt.Fprintf(out, "FUZZ  %s  %s: applies only with fuzz %d: %v\n", c.Component, name, c.Fuzz, c.Err)
		case workflow.Fail:
			fmt.Fprintf(out, "FAIL  %s  %s: %v\n", c.Component, name, c.Err)
		case workflow.After:
			fmt.Fprintf(out, "skip  %s  %s: after a patch that failed\n", c.Component, name)
		case workflow.Uncached:
			fmt.Fprintf(out, "skip  %s: a source is not in the cache (%v)\n", c.Component, c.Err)
		}
	})
}
