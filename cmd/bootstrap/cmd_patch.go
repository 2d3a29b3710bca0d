package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/patch/patchwork"
	"github.com/porterkit/bootstrap/runner/patch/workflow"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/workdir"
)

func patchCommand() *cli.Command {
	return &cli.Command{
		Name:  "patch",
		Usage: "change a component's patches: edit them as git commits, save new commits as patches",
		Description: "`patch edit RECIPE COMPONENT` unpacks the component's sources (fetching them first if\n" +
			"needed) into the git work tree <work>/edit/<component>: one commit for the unpatched\n" +
			"source, then one per patch of the recipe. Change files there and `git commit`.\n" +
			"`patch save RECIPE COMPONENT` writes each new commit as NNNN-subject.patch into the\n" +
			"component's patch dir and lists it in that dir's series file: the dir of the\n" +
			"component's last patches: entry when that is a series outside the source, else\n" +
			"patches/<component>/<version>/ next to the recipe (for a recipe in recipes/, the\n" +
			"patches/ beside recipes/ when there is one), where <version> is the recipe var\n" +
			"<component>_version or version when set, else \"local\"; then the recipe gets a\n" +
			"`- series:` entry for it. The next run rebuilds from <component>:patch on.\n" +
			"`patch check RECIPE` applies every patch to its pristine source with fuzz 0.",
		Subcommands: []*cli.Command{patchEditCommand(), patchSaveCommand(), patchCheckCommand()},
	}
}

func patchEditCommand() *cli.Command {
	return patchSubcommand("edit", "unpack a component's sources into a git work tree, one commit per patch",
		append(planFlags(), sourceFlags()...), func(c *cli.Context, recipe, comp string) error {
			return runPatchEdit(c.Context, planOptionsFrom(c), sourceOptionsFrom(c), c.App.Writer, recipe, comp)
		})
}

func patchSaveCommand() *cli.Command {
	return patchSubcommand("save", "write the work tree's new commits as patches of the component",
		planCacheFlags(), func(c *cli.Context, recipe, comp string) error {
			return runPatchSave(c.Context, planOptionsFrom(c), c.App.Writer, recipe, comp)
		})
}

// patchSubcommand is a `patch` subcommand taking exactly RECIPE COMPONENT.
func patchSubcommand(name, usage string, flags []cli.Flag, run func(c *cli.Context, recipe, comp string) error) *cli.Command {
	return &cli.Command{Name: name, Usage: usage, ArgsUsage: "RECIPE COMPONENT", Flags: flags,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return &usageError{fmt.Sprintf("usage: bootstrap patch %s RECIPE COMPONENT", name)}
			}
			return run(c, c.Args().Get(0), c.Args().Get(1))
		}}
}

// patchPlan compiles the recipe and, given source flags, makes the source
// set: the one place the patch commands meet loadPlan and sourceOptions.
func patchPlan(path string, o planOptions, so *sourceOptions) (*plan.Plan, source.Set, error) {
	p, err := loadPlan(path, o)
	if err != nil || so == nil {
		return p, nil, err
	}
	sources, err := so.set(nil)
	return p, sources, err
}

// runPatchEdit makes the work tree (workflow.Edit) and says what next.
func runPatchEdit(ctx context.Context, o planOptions, so sourceOptions, out io.Writer, path, comp string) error {
	p, sources, err := patchPlan(path, o, &so)
	if err != nil {
		return err
	}
	// edit/ goes into the work dir: it must be one (or become one).
	if err := workdir.Prepare(p.WorkDir, p.Recipe.Name.Value, p.Target, sayTo(out)); err != nil {
		return err
	}
	workTree, err := workflow.Edit(ctx, p, sources, comp)
	if wt := (*workflow.WorkTreeError)(nil); errors.As(err, &wt) {
		return &usageError{fmt.Sprintf("%v: continue there (git commit, then `bootstrap patch save%s %s %s`), or discard it with `rm -rf %s`",
			err, flagHint(o), path, comp, wt.Dir)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: work tree %s\n", comp, workTree)
	fmt.Fprintf(out, "  tag %s is the unpacked source; one commit per patch of the recipe follows, up to tag %s\n",
		patchwork.BaseTag, patchwork.AppliedTag)
	fmt.Fprintf(out, "next: change files there and `git commit` each change, then run\n  bootstrap patch save%s %s %s\n",
		flagHint(o), path, comp)
	return nil
}

// runPatchSave writes the new commits as patches (workflow.Save) and
// prints each file written, also before an error.
func runPatchSave(ctx context.Context, o planOptions, out io.Writer, path, comp string) error {
	p, _, err := patchPlan(path, o, nil)
	if err != nil {
		return err
	}
	saved, err := workflow.Save(ctx, p, comp)
	if wt := (*workflow.WorkTreeError)(nil); errors.As(err, &wt) {
		return &usageError{fmt.Sprintf("%v: run `bootstrap patch edit%s %s %s` first", err, flagHint(o), path, comp)}
	}
	for _, f := range saved.Files {
		fmt.Fprintf(out, "wrote %s\n", display(f))
	}
	if err != nil || len(saved.Files) == 0 {
		if err == nil {
			fmt.Fprintf(out, "%s: no new commits in %s since the last save; nothing written\n", comp, saved.WorkTree)
		}
		return err
	}
	fmt.Fprintf(out, "updated %s\n", display(saved.Series))
	if saved.Added != "" {
		fmt.Fprintf(out, "added `- series: %s` to the patches of %s in %s\n", saved.Added, comp, path)
	}
	fmt.Fprintf(out, "next: bootstrap run%s %s rebuilds from %s on; the work tree stays for more commits (rm -rf %s when done)\n",
		flagHint(o), path, saved.Step, saved.WorkTree)
	return nil
}

// flagHint repeats --workdir and --target for a suggested command line.
func flagHint(o planOptions) (s string) {
	for _, f := range [][2]string{{"--workdir", o.WorkDir}, {"--target", o.Target}} {
		if f[1] != "" {
			s += " " + f[0] + " " + f[1]
		}
	}
	return s
}

// display shortens path relative to the current directory when it lies
// below it.
func display(path string) string {
	wd, err1 := os.Getwd()
	abs, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, abs); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return abs
}
