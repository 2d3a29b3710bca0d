package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source"
)

// UnpackSources writes the sources of a patch step, unpatched, into tree,
// each at its dest, as the patch step lays them out (`patch edit` does the
// same). The sources must have been fetched. Errors name the source's place
// in the recipe.
func UnpackSources(ctx context.Context, sources source.Set, st *plan.Step, tree string, log io.Writer) error {
	for _, src := range st.Sources {
		f, err := sources.For(src)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(tree, src.Dest), 0o755); err != nil {
			return err
		}
		if err := f.Materialize(ctx, src, tree, log); err != nil {
			return fmt.Errorf("unpack source at %s: %w", src.Pos, err)
		}
	}
	return nil
}

// InSource reports whether p is a series inside the component's source
// tree, and its path relative to that tree.
func InSource(st *plan.Step, p plan.Patch) (string, bool) {
	if p.Series == "" {
		return "", false
	}
	rel, err := filepath.Rel(st.SrcDir, p.Series)
	return rel, err == nil && filepath.IsLocal(rel)
}

// PatchesIn returns the step's patches with every series that lives inside
// the source read from tree instead: the patch step applies to a fresh tree
// before it replaces the source tree, which may not exist yet.
func PatchesIn(st *plan.Step, tree string) []plan.Patch {
	out := append([]plan.Patch(nil), st.Patches...)
	for i, p := range out {
		if rel, ok := InSource(st, p); ok {
			out[i].Series = filepath.Join(tree, rel)
		}
	}
	return out
}
