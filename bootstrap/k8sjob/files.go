package k8sjob

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/quilt"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// File is one file the run in the pod reads besides its sources: the
// recipe, a recipe it extends, a patch or a quilt series.
type File struct {
	// Path is the file's absolute path here.
	Path string
	// Rel is its path below the root of the shipped tree (slash-separated),
	// where the pod finds it under RecipeMount.
	Rel string
	// Key is its key in the ConfigMap: Rel made a valid key (see
	// configKey), unique among the files.
	Key string
	// Data is its content.
	Data []byte
}

// recipeFiles lists, sorted by path, every file a run of p reads from
// beside its recipe: the recipe, the chain of recipes it extends, and each
// patch or series file outside a source tree (a series inside one, Debian's
// debian/patches/series, arrives with its source). Relative paths between
// them are what the recipe wrote (../patches/…), so they keep their layout
// below the deepest directory that holds them all. A dir: source is a local
// tree no ConfigMap can carry: that is a *recipe.Error at the source.
func recipeFiles(p *plan.Plan) ([]File, error) {
	paths := map[string]bool{}
	for _, f := range p.Recipe.Files {
		paths[f] = true
	}
	for _, s := range p.Steps {
		for _, src := range s.Sources {
			if src.Kind == "dir" {
				return nil, &recipe.Error{Pos: src.Pos, Component: s.Component,
					Msg: fmt.Sprintf("a dir: source (%s) is a tree on this machine, which a Job's pod cannot reach: use a url:, git: or gomod: source, or bake the tree into the image", src.Dir)}
			}
		}
		for _, pt := range s.Patches {
			files, err := patchFiles(pt, s.SrcDir)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				paths[f] = true
			}
		}
	}
	var abs []string
	for f := range paths {
		a, err := filepath.Abs(f)
		if err != nil {
			return nil, fmt.Errorf("recipe file %s: %w", f, err)
		}
		abs = append(abs, a)
	}
	sort.Strings(abs)
	root := commonDir(abs)
	out := make([]File, 0, len(abs))
	for _, a := range abs {
		data, err := os.ReadFile(a)
		if err != nil {
			return nil, fmt.Errorf("recipe file: %w", err)
		}
		rel, err := filepath.Rel(root, a)
		if err != nil {
			return nil, fmt.Errorf("recipe file %s: %w", a, err)
		}
		out = append(out, File{Path: a, Rel: filepath.ToSlash(rel), Data: data})
	}
	setKeys(out)
	return out, nil
}

// patchFiles lists the files of one patch entry: the patch file, or the
// series file and every patch it names; none for a series inside the
// component's source tree srcDir.
func patchFiles(pt plan.Patch, srcDir string) ([]string, error) {
	if pt.File != "" {
		return []string{pt.File}, nil
	}
	if pt.Series == srcDir || strings.HasPrefix(pt.Series, srcDir+string(filepath.Separator)) {
		return nil, nil
	}
	f, err := os.Open(pt.Series)
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	defer f.Close()
	entries, err := quilt.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("series %s: %w", pt.Series, err)
	}
	files := []string{pt.Series}
	for _, e := range entries {
		files = append(files, filepath.Join(filepath.Dir(pt.Series), e.Name))
	}
	return files, nil
}

// commonDir is the deepest directory holding every one of the absolute,
// cleaned paths.
func commonDir(paths []string) string {
	root := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for root != "/" && !strings.HasPrefix(p, root+string(filepath.Separator)) {
			root = filepath.Dir(root)
		}
	}
	return root
}

// setKeys gives each file its ConfigMap key: configKey of its path, with
// a numeric suffix when two paths make the same key ("a/b" and "a__b").
func setKeys(files []File) {
	seen := map[string]bool{}
	for i := range files {
		k := configKey(files[i].Rel)
		for n := 2; seen[k]; n++ {
			k = fmt.Sprintf("%s.%d", configKey(files[i].Rel), n)
		}
		seen[k] = true
		files[i].Key = k
	}
}
