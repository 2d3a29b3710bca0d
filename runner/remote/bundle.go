package remote

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// Bundle is what a board needs of the recipe: the recipe file, the bases
// it extends and the patches of its components, packed in a tar stream
// with paths relative to the directory all of them share, so that the
// recipe's relative paths mean the same on the board.
type Bundle struct {
	// Root is the shared directory; Recipe is the recipe's path below it.
	Root, Recipe string
	// Files are the bundled files, relative to Root, sorted.
	Files []string
}

// NewBundle collects the files of the recipe at path and of plan p: the
// extends chain and every patch file or series (a series with the rest of
// its directory, where its patches are). Sources of kind dir cannot be
// sent and are an error naming them.
func NewBundle(path string, p *plan.Plan) (*Bundle, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, f := range p.Recipe.Files {
		set[f] = true
	}
	for _, st := range p.Steps {
		for _, src := range st.Sources {
			if src.Kind == "dir" {
				return nil, fmt.Errorf("%s: source dir %s of %s is on this machine: a board cannot use it (pack it as a tarball source)", src.Pos, src.Dir, st.Component)
			}
		}
		for _, pt := range st.Patches {
			switch {
			case pt.File != "":
				set[pt.File] = true
			case pt.Series != "" && pt.Digest != "in-source":
				if err := addDir(set, filepath.Dir(pt.Series)); err != nil {
					return nil, err
				}
			}
		}
	}
	files := make([]string, 0, len(set))
	for f := range set {
		// A plan opened on a relative recipe path has relative patches.
		if f, err = filepath.Abs(f); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	root := commonDir(files)
	b := &Bundle{Root: root}
	b.Recipe, _ = filepath.Rel(root, abs)
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		b.Files = append(b.Files, rel)
	}
	sort.Strings(b.Files)
	return b, nil
}

// addDir adds the regular files under dir to set.
func addDir(set map[string]bool, dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			set[p] = true
		}
		return nil
	})
}

// commonDir is the deepest directory holding every file.
func commonDir(files []string) string {
	if len(files) == 0 {
		return "/"
	}
	dir := filepath.Dir(files[0])
	for _, f := range files[1:] {
		for dir != "/" && !strings.HasPrefix(f, dir+string(filepath.Separator)) {
			dir = filepath.Dir(dir)
		}
	}
	return dir
}

// Tar packs the bundle's files.
func (b *Bundle) Tar() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range b.Files {
		if err := addFile(tw, filepath.Join(b.Root, f), filepath.ToSlash(f)); err != nil {
			return nil, fmt.Errorf("pack %q (root %s, files %q): %w", f, b.Root, b.Files, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
