package workflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
	"github.com/porterkit/bootstrap/runner/patch/patchwork"
	"github.com/porterkit/bootstrap/runner/recipeedit"
)

// Saved is what Save wrote.
type Saved struct {
	// Step is the component's patch step, the first the next run redoes.
	Step string
	// WorkTree is the work tree the commits came from.
	WorkTree string
	// Files are the patch files written, in order; none when the work
	// tree has no new commits.
	Files []string
	// Series is the series file that now lists Files ("" with no Files).
	Series string
	// Added is the `- series:` entry added to the recipe (relative to it,
	// as written there); "" when the recipe listed the series already.
	Added string
}

// Save writes the work tree's new commits as NNNN-subject.patch files into
// the component's patch dir (SeriesFor), lists them in its series file
// and, when the recipe does not list that series yet, adds a `- series:`
// entry last in the component's patches:. The recipe edit is prepared and
// checked before anything is exported, and the recipe rewritten last,
// atomically.
//
// It returns a *runner.UsageError for an unknown component or a missing work
// tree (a *WorkTreeError inside). Other errors name recipe and component.
// The Saved is never nil: with an error it lists the files written so far.
func Save(ctx context.Context, p *plan.Plan, comp string) (*Saved, error) {
	r := p.Recipe
	saved := &Saved{Step: comp + ":patch", WorkTree: WorkTree(p, comp)}
	st, err := Step(p, comp)
	if err != nil {
		return saved, err
	}
	if _, err := os.Stat(filepath.Join(saved.WorkTree, ".git")); err != nil {
		return saved, &runner.UsageError{Err: &WorkTreeError{Recipe: r.File, Component: comp, Dir: saved.WorkTree}}
	}
	series, add, err := SeriesFor(r, st, comp)
	if err != nil {
		return saved, err
	}
	var edited []byte
	if add {
		// A recipe that cannot be edited is an error before anything is
		// exported.
		if edited, err = addSeriesEntry(r, comp, series); err != nil {
			return saved, err
		}
	}
	outDir := filepath.Dir(series)
	n, err := nextNumber(st, outDir)
	if err != nil {
		return saved, fmt.Errorf("%s: component %s: %w", r.File, comp, err)
	}
	saved.Files, err = patchwork.Save(ctx, saved.WorkTree, outDir, n)
	if err != nil {
		return saved, fmt.Errorf("%s: component %s: save %s: %w", r.File, comp, saved.WorkTree, err)
	}
	if len(saved.Files) == 0 {
		return saved, nil
	}
	names := make([]string, len(saved.Files))
	for i, f := range saved.Files {
		names[i] = filepath.Base(f)
	}
	if err := patchwork.UpdateSeries(series, names); err != nil {
		return saved, fmt.Errorf("%s: component %s: %w", r.File, comp, err)
	}
	saved.Series = series
	if add {
		if err := atomicfile.Write(r.File, edited, 0o644); err != nil {
			return saved, fmt.Errorf("%s: component %s: add `- series: %s` to its patches by hand: %w", r.File, comp, relTo(r, series), err)
		}
		saved.Added = relTo(r, series)
	}
	return saved, nil
}

// SeriesFor picks the series file new patches go to. The component's last
// patches: entry is used when it is a series outside the source tree with
// the strip level Save writes (1): its new entries then apply last, on top
// of everything they were committed on. Otherwise it is
// patches/<comp>/<version>/series in PatchesDir, and add is true: the
// recipe needs a `- series:` entry for it. A default series the recipe
// lists, but not last, is an error: new patches in it would apply too
// early.
func SeriesFor(r *recipe.Recipe, st *plan.Step, comp string) (series string, add bool, err error) {
	if n := len(st.Patches); n > 0 {
		last := st.Patches[n-1]
		if _, in := runner.InSource(st, last); last.Series != "" && !in && last.Strip == 1 {
			return last.Series, false, nil
		}
	}
	series = filepath.Join(PatchesDir(r.Dir()), comp, patchVersion(r, comp), "series")
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

// PatchesDir is the patches/ dir new patch dirs go in, for a recipe in
// recipeDir: patches/ next to the recipe, except for a recipe in a
// recipes/ directory whose parent has patches/ and it has none of its own
// (this project's layout, recipes/ and patches/ side by side).
func PatchesDir(recipeDir string) string {
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
