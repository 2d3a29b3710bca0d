package workflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/patch"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

// ErrDrifted is what Check returns when a patch does not apply with fuzz
// 0; each such patch has been reported already.
var ErrDrifted = errors.New("some patches do not apply with fuzz 0")

// Verdict is what Check found for one patch file or component.
type Verdict int

// The verdicts, in the order a porter cares less about them.
const (
	// Fail: the patch does not apply, not even with the recipe's fuzz.
	Fail Verdict = iota
	// Fuzz: it applies only with the fuzz the recipe allows.
	Fuzz
	// After: not tried, it comes after a patch that failed and was
	// written on top of it.
	After
	// Uncached: the whole component was skipped, a source is not in the
	// cache and the run is offline.
	Uncached
	// OK: it applies with fuzz 0.
	OK
)

// Checked is one line of Check's report.
type Checked struct {
	// Component is the component checked.
	Component string
	// File is the patch file; relative to the source tree when InSource;
	// "" for Uncached.
	File string
	// InSource is true for a patch of a series shipped inside the source
	// (as Debian's are).
	InSource bool
	// Verdict is what the fuzz-0 application found.
	Verdict Verdict
	// Fuzz is the recipe's fuzz, with which a Fuzz patch applies.
	Fuzz int
	// Err says why it fails with fuzz 0 (Fail, Fuzz) or which source is
	// missing (Uncached).
	Err error
}

// Check applies the patches of comps (every component with patches when
// none is named) to a fresh, unpatched copy of their sources, one patch
// file at a time with fuzz 0, whatever fuzz the recipe allows: a patch
// that needs fuzz has drifted from the source it was written for. The
// work dir is not touched; the copies live in a temporary directory.
//
// It calls report for each patch file as it goes, and returns ErrDrifted
// when one does not apply with fuzz 0; another error is a failure to fetch
// or unpack (naming recipe and component) or a *runner.UsageError for an
// unknown component.
func Check(ctx context.Context, p *plan.Plan, sources source.Set, comps []string, report func(Checked)) error {
	var steps []*plan.Step
	for _, c := range comps {
		st, err := Step(p, c)
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
	parent, err := os.MkdirTemp("", "bootstrap-patch-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(parent)
	failed := false
	for _, st := range steps {
		ok, err := checkComponent(ctx, sources, st, parent, report)
		if err != nil {
			return fmt.Errorf("%s: component %s: %w", p.Recipe.File, st.Component, err)
		}
		failed = failed || !ok
	}
	if failed {
		return ErrDrifted
	}
	return nil
}

// checkComponent unpacks one component's sources into a fresh dir under
// parent and applies its patches there, file by file. It reports false
// when one does not apply with fuzz 0; an error is a failure to unpack.
func checkComponent(ctx context.Context, sources source.Set, st *plan.Step, parent string, report func(Checked)) (bool, error) {
	tree, err := unpackUnpatched(ctx, sources, st, parent)
	if tree != "" {
		defer os.RemoveAll(tree)
	}
	if errors.Is(err, fetch.ErrMissingOffline) {
		report(Checked{Component: st.Component, Verdict: Uncached, Err: err})
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
		for i, e := range entries {
			c := checked(st, tree, e.File, OK)
			one := plan.Patch{File: e.File, Strip: e.Strip}
			if _, c.Err = patch.Apply(ctx, tree, one, io.Discard); c.Err == nil {
				report(c)
				continue
			}
			ok, c.Verdict = false, Fail
			if p.Fuzz > 0 {
				one.Fuzz = p.Fuzz
				if _, err := patch.Apply(ctx, tree, one, io.Discard); err == nil {
					c.Verdict, c.Fuzz = Fuzz, p.Fuzz
					report(c)
					continue
				}
			}
			report(c)
			// The patches after it were written on top of it.
			for _, rest := range entries[i+1:] {
				report(checked(st, tree, rest.File, After))
			}
			return false, nil
		}
	}
	return ok, nil
}

// checked is the report about one patch file, named relative to the
// source tree when it lies inside.
func checked(st *plan.Step, tree, file string, v Verdict) Checked {
	c := Checked{Component: st.Component, File: file, Verdict: v}
	if rel, err := filepath.Rel(tree, file); err == nil && filepath.IsLocal(rel) {
		c.File, c.InSource = rel, true
	}
	return c
}
