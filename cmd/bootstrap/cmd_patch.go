package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/patch/patchwork"
	"github.com/porterkit/bootstrap/runner/patch/recipeedit"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// patchEditOptions are the flags of `bootstrap patch edit`.
type patchEditOptions struct {
	planOptions
	sourceOptions
}

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
	return &cli.Command{
		Name:      "edit",
		Usage:     "unpack a component's sources into a git work tree, one commit per patch",
		ArgsUsage: "RECIPE COMPONENT",
		Flags:     append(planFlags(), sourceFlags()...),
		Action: func(c *cli.Context) error {
			a, err := patchArgs(c)
			if err != nil {
				return err
			}
			o := patchEditOptions{planOptions: planOptionsFrom(c), sourceOptions: sourceOptionsFrom(c)}
			return runPatchEdit(c.Context, o, c.App.Writer, a[0], a[1])
		},
	}
}

func patchSaveCommand() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "write the work tree's new commits as patches of the component",
		ArgsUsage: "RECIPE COMPONENT",
		Flags:     planCacheFlags(),
		Action: func(c *cli.Context) error {
			a, err := patchArgs(c)
			if err != nil {
				return err
			}
			return runPatchSave(c.Context, planOptionsFrom(c), c.App.Writer, a[0], a[1])
		},
	}
}

// patchArgs checks for exactly RECIPE and COMPONENT.
func patchArgs(c *cli.Context) ([]string, error) {
	if c.NArg() != 2 {
		return nil, &usageError{fmt.Sprintf("usage: bootstrap patch %s RECIPE COMPONENT", c.Command.Name)}
	}
	return c.Args().Slice(), nil
}

// runPatchEdit makes the work tree <work>/edit/<component>. It takes no
// lock: it writes nothing a run reads except the download cache, which the
// fetchers fill atomically. It returns a *usageError for an unknown
// component or an existing work tree; on any later failure the work tree
// is removed again.
func runPatchEdit(ctx context.Context, o patchEditOptions, out io.Writer, path, comp string) error {
	p, err := loadPlan(path, o.planOptions)
	if err != nil {
		return err
	}
	st, err := patchStep(p, path, comp)
	if err != nil {
		return err
	}
	workTree := editTree(p, comp)
	if ents, err := os.ReadDir(workTree); err == nil && len(ents) > 0 {
		return &usageError{fmt.Sprintf("%s: component %s already has a work tree %s: continue there "+
			"(git commit, then `bootstrap patch save%s %s %s`), or discard it with `rm -rf %s`",
			path, comp, workTree, flagHint(o.planOptions), path, comp, workTree)}
	}
	// edit/ goes into the work dir: it must be one (or become one).
	if err := workdir.Prepare(p.WorkDir, p.Recipe.Name.Value, p.Target, sayTo(out)); err != nil {
		return err
	}
	sources, err := o.sourceOptions.set(nil)
	if err != nil {
		return err
	}
	fresh, err := unpackUnpatched(ctx, sources, st, filepath.Dir(workTree))
	if fresh != "" {
		defer os.RemoveAll(fresh)
	}
	if err != nil {
		return fmt.Errorf("%s: component %s: %w", path, comp, err)
	}
	if err := patchwork.Edit(ctx, fresh, workTree, runner.PatchesIn(st, fresh)); err != nil {
		os.RemoveAll(workTree)
		return fmt.Errorf("%s: component %s: cannot apply its patches in %s: %w", path, comp, workTree, err)
	}
	fmt.Fprintf(out, "%s: work tree %s\n", comp, workTree)
	fmt.Fprintf(out, "  tag %s is the unpacked source; one commit per patch of the recipe follows, up to tag %s\n",
		patchwork.BaseTag, patchwork.AppliedTag)
	fmt.Fprintf(out, "next: change files there and `git commit` each change, then run\n  bootstrap patch save%s %s %s\n",
		flagHint(o.planOptions), path, comp)
	return nil
}

// unpackUnpatched fetches the patch step's sources when needed and writes
// them, unpatched, into a new directory under parent, exactly as the patch
// step lays them out. It returns that directory (to be removed by the
// caller, also after an error) or an error naming the source.
func unpackUnpatched(ctx context.Context, sources source.Set, st *plan.Step, parent string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	fresh, err := os.MkdirTemp(parent, "."+st.Component+".unpack-")
	if err != nil {
		return "", err
	}
	for _, src := range st.Sources {
		f, err := sources.For(src)
		if err != nil {
			return fresh, err
		}
		if err := f.Fetch(ctx, src, io.Discard); err != nil {
			return fresh, fmt.Errorf("fetch source at %s: %w", src.Pos, err)
		}
	}
	if err := runner.UnpackSources(ctx, sources, st, fresh, io.Discard); err != nil {
		return fresh, err
	}
	return fresh, nil
}

// runPatchSave writes the work tree's new commits as patch files, updates
// the series file and, when the recipe does not list that series yet, adds
// it to the component's patches:. It returns an error naming the recipe,
// component and path; before any commit is exported when it can.
func runPatchSave(ctx context.Context, o planOptions, out io.Writer, path, comp string) error {
	p, err := loadPlan(path, o)
	if err != nil {
		return err
	}
	st, err := patchStep(p, path, comp)
	if err != nil {
		return err
	}
	workTree := editTree(p, comp)
	if _, err := os.Stat(filepath.Join(workTree, ".git")); err != nil {
		return &usageError{fmt.Sprintf("%s: component %s has no work tree %s: run `bootstrap patch edit%s %s %s` first",
			path, comp, workTree, flagHint(o), path, comp)}
	}
	series, add, err := seriesFor(p.Recipe, st, comp)
	if err != nil {
		return err
	}
	outDir := filepath.Dir(series)
	var edited []byte
	if add {
		// Edit the recipe in memory first: a recipe that cannot be edited
		// is an error before anything is exported.
		if edited, err = addSeriesEntry(p.Recipe, comp, series); err != nil {
			return err
		}
	}
	n, err := nextNumber(st, outDir)
	if err != nil {
		return fmt.Errorf("%s: component %s: %w", path, comp, err)
	}
	files, err := patchwork.Save(ctx, workTree, outDir, n)
	for _, f := range files {
		fmt.Fprintf(out, "wrote %s\n", display(f))
	}
	if err != nil {
		return fmt.Errorf("%s: component %s: save %s: %w", path, comp, workTree, err)
	}
	if len(files) == 0 {
		fmt.Fprintf(out, "%s: no new commits in %s since the last save; nothing written\n", comp, workTree)
		return nil
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	if err := patchwork.UpdateSeries(series, names); err != nil {
		return fmt.Errorf("%s: component %s: %w", path, comp, err)
	}
	fmt.Fprintf(out, "updated %s\n", display(series))
	if add {
		if err := writeRecipe(p.Recipe.File, edited); err != nil {
			return fmt.Errorf("%s: component %s: add `- series: %s` to its patches by hand: %w", path, comp, relTo(p.Recipe, series), err)
		}
		fmt.Fprintf(out, "added `- series: %s` to the patches of %s in %s\n", relTo(p.Recipe, series), comp, path)
	}
	fmt.Fprintf(out, "next: bootstrap run%s %s rebuilds from %s on; the work tree stays for more commits (rm -rf %s when done)\n",
		flagHint(o), path, st.ID, workTree)
	return nil
}

// seriesFor picks the series file new patches go to. The component's last
// patches: entry is used when it is a series outside the source tree with
// the strip level Save writes (1): its new entries then apply last, on top
// of everything they were committed on. Otherwise it is
// patches/<comp>/<version>/series next to the recipe, and add is true.
func seriesFor(r *recipe.Recipe, st *plan.Step, comp string) (series string, add bool, err error) {
	if n := len(st.Patches); n > 0 {
		last := st.Patches[n-1]
		if _, in := runner.InSource(st, last); last.Series != "" && !in && last.Strip == 1 {
			return last.Series, false, nil
		}
	}
	series = filepath.Join(patchesDir(r.Dir()), comp, patchVersion(r, comp), "series")
	abs, _ := filepath.Abs(series)
	for _, p := range st.Patches {
		if q, _ := filepath.Abs(p.Series); p.Series != "" && q == abs {
			return "", false, fmt.Errorf("%s: component %s: series %s is in its patches: but not last with strip 1, "+
				"so new patches in it would not apply on top of the others; move that entry to the end of patches: "+
				"(or add a new `- series:` entry last) and save again", p.Pos, comp, relTo(r, series))
		}
	}
	return series, true, nil
}

// patchesDir is the patches/ dir new patch dirs go in, for a recipe in
// recipeDir: patches/ next to the recipe, except for a recipe in a
// recipes/ directory whose parent has patches/ and it has none of its own
// (this project's layout, recipes/ and patches/ side by side).
func patchesDir(recipeDir string) string {
	own := filepath.Join(recipeDir, "patches")
	if filepath.Base(recipeDir) != "recipes" || isDir(own) {
		return own
	}
	if top := filepath.Join(filepath.Dir(recipeDir), "patches"); isDir(top) {
		return top
	}
	return own
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// patchVersion is the <version> of a new patch dir: the recipe var
// <comp>_version (with - as _ too), else version, when it is a plain
// value usable as a directory name; else "local".
func patchVersion(r *recipe.Recipe, comp string) string {
	for _, name := range []string{comp + "_version", strings.ReplaceAll(comp, "-", "_") + "_version", "version"} {
		for _, v := range r.Vars {
			val := v.Value.Value
			if v.Name.Value == name && val != "" && !strings.Contains(val, "${{") &&
				!strings.ContainsAny(val, `/\`) && filepath.IsLocal(val) {
				return val
			}
		}
	}
	return "local"
}

// nextNumber numbers the first new patch: after every NNNN- patch in
// outDir and after the component's own file: entries, so a component with
// 0001-x.patch gets 0002 next.
func nextNumber(st *plan.Step, outDir string) (int, error) {
	n, err := patchwork.NextNumber(outDir)
	if err != nil {
		return 0, err
	}
	for _, p := range st.Patches {
		num, _, ok := strings.Cut(filepath.Base(p.File), "-")
		if k, err := strconv.Atoi(num); p.File != "" && ok && err == nil && len(num) == 4 {
			n = max(n, k+1)
		}
	}
	return n, nil
}

// addSeriesEntry returns the recipe's text with `- series:` added to the
// component's patches, checked to still load (with the series file taken
// as present).
func addSeriesEntry(r *recipe.Recipe, comp, series string) ([]byte, error) {
	data, err := os.ReadFile(r.File)
	if err != nil {
		return nil, fmt.Errorf("read recipe: %w", err)
	}
	edited, err := recipeedit.AddSeries(r.File, data, comp, relTo(r, series))
	if err != nil {
		return nil, err
	}
	if _, err := recipe.Parse(r.File, edited); err != nil {
		var list recipe.ErrorList
		if !errors.As(err, &list) || !onlyMissing(list, relTo(r, series)) {
			return nil, fmt.Errorf("%s: component %s: the recipe would not load after adding `- series: %s`: %w", r.File, comp, relTo(r, series), err)
		}
	}
	return edited, nil
}

// onlyMissing reports whether every error in list is the new series file
// not existing yet.
func onlyMissing(list recipe.ErrorList, series string) bool {
	for _, e := range list {
		if !strings.Contains(e.Error(), fmt.Sprintf("%q not found", series)) {
			return false
		}
	}
	return len(list) > 0
}

// writeRecipe replaces the recipe file through a temporary file and a
// rename, keeping its permissions.
func writeRecipe(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), fi.Mode().Perm())
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// patchStep returns the component's patch step, or a *usageError when the
// component does not exist or has no source.
func patchStep(p *plan.Plan, path, comp string) (*plan.Step, error) {
	if st := p.Step(comp + ":patch"); st != nil && st.Kind == plan.KindPatch {
		return st, nil
	}
	for _, c := range p.Recipe.Components {
		if c.Name.Value == comp {
			return nil, &usageError{fmt.Sprintf("%s: component %s (%s) has no source, so it has no patches to edit", path, comp, c.Pos)}
		}
	}
	return nil, &usageError{fmt.Sprintf("%s: no component %q", path, comp)}
}

// editTree is the component's patch work tree, <work>/edit/<comp>.
func editTree(p *plan.Plan, comp string) string { return filepath.Join(p.WorkDir, "edit", comp) }

// flagHint repeats --workdir and --target for a suggested command line.
func flagHint(o planOptions) string {
	s := ""
	if o.WorkDir != "" {
		s += " --workdir " + o.WorkDir
	}
	if o.Target != "" {
		s += " --target " + o.Target
	}
	return s
}

// relTo is path relative to the recipe's directory, with slashes, as
// recipes write paths.
func relTo(r *recipe.Recipe, path string) string {
	dir, err1 := filepath.Abs(r.Dir())
	abs, err2 := filepath.Abs(path)
	if rel, err := filepath.Rel(dir, abs); err1 == nil && err2 == nil && err == nil {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(path)
}

// display shortens path relative to the current directory when it lies
// below it.
func display(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, abs); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return abs
}
