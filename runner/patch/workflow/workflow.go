// Package workflow is the recipe side of `bootstrap patch`: which step and
// work tree a component's patches are edited in, where new patches go and
// how they are numbered, how the recipe learns about them, and the fuzz-0
// check of every patch. The git side (a work tree with one commit per
// patch, commits back to patch files) is runner/patch/patchwork; the
// command line only parses flags and prints what these functions return.
//
// Edit, Save and Check take the compiled plan, so that the paths they use
// (<work>/edit/<component>, the component's source layout, the patches'
// own paths) are exactly those a run uses.
package workflow

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/patch/patchwork"
	"github.com/porterkit/bootstrap/runner/source"
)

// WorkTreeError is a component's work tree in the way of Edit (Exists) or
// missing for Save. It comes wrapped in a *runner.UsageError.
type WorkTreeError struct {
	// Recipe is the recipe file, Component the component.
	Recipe, Component string
	// Dir is the work tree, <work>/edit/<component>.
	Dir string
	// Exists is true for Edit (the tree is there), false for Save.
	Exists bool
}

// Error names recipe, component and work tree; the CLI adds what to run.
func (e *WorkTreeError) Error() string {
	if e.Exists {
		return fmt.Sprintf("%s: component %s already has a work tree %s", e.Recipe, e.Component, e.Dir)
	}
	return fmt.Sprintf("%s: component %s has no work tree %s", e.Recipe, e.Component, e.Dir)
}

// WorkTree is the component's patch work tree, <work>/edit/<comp>.
func WorkTree(p *plan.Plan, comp string) string { return filepath.Join(p.WorkDir, "edit", comp) }

// Edit makes the work tree <work>/edit/<comp>: the component's sources
// (fetched first when needed), unpacked unpatched as the patch step lays
// them out, as a git repository with one commit per patch of the recipe
// (patchwork.Edit). It returns the work tree's path.
//
// It takes no lock: it writes nothing a run reads except the download
// cache, which the fetchers fill atomically. It returns a
// *runner.UsageError for an unknown component, one without a source, or an
// existing work tree (a *WorkTreeError inside); on any later failure the
// work tree is removed again and the error names recipe and component.
func Edit(ctx context.Context, p *plan.Plan, sources source.Set, comp string) (string, error) {
	st, err := Step(p, comp)
	if err != nil {
		return "", err
	}
	workTree := WorkTree(p, comp)
	if ents, err := os.ReadDir(workTree); err == nil && len(ents) > 0 {
		return "", &runner.UsageError{Err: &WorkTreeError{Recipe: p.Recipe.File, Component: comp, Dir: workTree, Exists: true}}
	}
	fresh, err := unpackUnpatched(ctx, sources, st, filepath.Dir(workTree))
	if fresh != "" {
		defer os.RemoveAll(fresh)
	}
	if err != nil {
		return "", fmt.Errorf("%s: component %s: %w", p.Recipe.File, comp, err)
	}
	if err := patchwork.Edit(ctx, fresh, workTree, runner.PatchesIn(st, fresh)); err != nil {
		os.RemoveAll(workTree)
		return "", fmt.Errorf("%s: component %s: cannot apply its patches in %s: %w", p.Recipe.File, comp, workTree, err)
	}
	return workTree, nil
}

// Step returns the component's patch step, or a *runner.UsageError when the
// component does not exist or has no source.
func Step(p *plan.Plan, comp string) (*plan.Step, error) {
	if st := p.Step(comp + ":patch"); st != nil && st.Kind == plan.KindPatch {
		return st, nil
	}
	for _, c := range p.Recipe.Components {
		if c.Name.Value == comp {
			return nil, &runner.UsageError{Err: fmt.Errorf("%s: component %s (%s) has no source, so it has no patches to edit", p.Recipe.File, comp, c.Pos)}
		}
	}
	return nil, &runner.UsageError{Err: fmt.Errorf("%s: no component %q", p.Recipe.File, comp)}
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
