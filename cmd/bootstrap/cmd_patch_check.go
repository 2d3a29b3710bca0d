package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/patch"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

// errPatchCheckFailed is returned when a patch does not apply with fuzz 0;
// each one has been reported already.
var errPatchCheckFailed = errors.New("some patches do not apply with fuzz 0")

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
			o := patchEditOptions{planOptions: planOptionsFrom(c), sourceOptions: sourceOptionsFrom(c)}
			return runPatchCheck(c.Context, o, c.App.Writer, c.Args().First(), c.Args().Tail())
		},
	}
}

// runPatchCheck prints one line per patch file: ok, FUZZ (applies only
// with the recipe's fuzz), FAIL, or one line per component: skip (source
// not in the cache offline).
func runPatchCheck(ctx context.Context, o patchEditOptions, out io.Writer, path string, comps []string) error {
	p, err := loadPlan(path, o.planOptions)
	if err != nil {
		return err
	}
	var steps []*plan.Step
	for _, c := range comps {
		st, err := patchStep(p, path, c)
		if err != nil {
			return err
		}
		steps = append(steps, st)
	}
	if len(comps) == 0 {
		for _, st := range p.Steps {
			if st.Kind == plan.KindPatch && len(st.Patches) > 0 {
				steps = append(steps, st)
			}
		}
	}
	sources, err := o.sourceOptions.set(nil)
	if err != nil {
		return err
	}
	parent, err := os.MkdirTemp("", "bootstrap-patch-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(parent)
	failed := false
	for _, st := range steps {
		ok, err := checkComponent(ctx, sources, st, parent, out)
		if err != nil {
			return fmt.Errorf("%s: component %s: %w", path, st.Component, err)
		}
		failed = failed || !ok
	}
	if failed {
		return errPatchCheckFailed
	}
	return nil
}

// checkComponent unpacks one component's sources into a fresh dir under
// parent and applies its patches there, file by file. It reports false
// when one does not apply with fuzz 0; an error is a failure to unpack.
func checkComponent(ctx context.Context, sources source.Set, st *plan.Step, parent string, out io.Writer) (bool, error) {
	tree, err := unpackUnpatched(ctx, sources, st, parent)
	if tree != "" {
		defer os.RemoveAll(tree)
	}
	if errors.Is(err, fetch.ErrMissingOffline) {
		fmt.Fprintf(out, "skip  %s: a source is not in the cache (%v)\n", st.Component, err)
		return true, nil
	}
	if err != nil {
		return false, err
	}
	ok := true
	for _, p := range runner.PatchesIn(st, tree) {
		entries, err := patch.Entries(p)
		if err != nil {
			return false, fmt.Errorf("patch at %s: %w", p.Pos, err)
		}
		for _, e := range entries {
			name := display(e.File)
			if rel, err := filepath.Rel(tree, e.File); err == nil && !strings.HasPrefix(rel, "..") {
				name = rel + " (in the source)"
			}
			one := plan.Patch{File: e.File, Strip: e.Strip}
			_, err := patch.Apply(ctx, tree, one, io.Discard)
			if err == nil {
				fmt.Fprintf(out, "ok    %s  %s\n", st.Component, name)
				continue
			}
			ok = false
			if p.Fuzz > 0 {
				one.Fuzz = p.Fuzz
				if _, err2 := patch.Apply(ctx, tree, one, io.Discard); err2 == nil {
					fmt.Fprintf(out, "FUZZ  %s  %s: applies only with fuzz %d: %v\n", st.Component, name, p.Fuzz, err)
					continue
				}
			}
			fmt.Fprintf(out, "FAIL  %s  %s: %v\n", st.Component, name, err)
			// The patches after it were written on top of it.
			for _, rest := range remaining(entries, e) {
				fmt.Fprintf(out, "skip  %s  %s: after a patch that failed\n", st.Component, display(rest.File))
			}
			return false, nil
		}
	}
	return ok, nil
}

// remaining lists the entries after e.
func remaining(entries []patch.Entry, e patch.Entry) []patch.Entry {
	i := slices.Index(entries, e)
	return entries[i+1:]
}
