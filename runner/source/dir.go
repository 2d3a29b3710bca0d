package source

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

// Dir is the Fetcher of `dir:` sources: a local tree whose content hash is
// its identity.
type Dir struct{}

// Fetch checks that the tree is still there; there is nothing to download.
func (Dir) Fetch(ctx context.Context, src plan.Source, log io.Writer) error {
	fi, err := os.Stat(src.Dir)
	if err != nil {
		return fmt.Errorf("dir source: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("dir source %s is not a directory", src.Dir)
	}
	fmt.Fprintf(log, "dir source %s (%s)\n", src.Dir, src.Identity)
	return nil
}

// Materialize copies the tree into dest, keeping modes and symlinks, then
// checks that the copy has the identity the plan was made with: a tree that
// changed since then would otherwise be built under the old signature.
func (Dir) Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error {
	dest := filepath.Join(tree, src.Dest)
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	if err := CopyTree(ctx, src.Dir, dest); err != nil {
		return err
	}
	sum, err := treehash.Sum(dest)
	if err != nil {
		return err
	}
	if "dir:"+sum != src.Identity {
		return fmt.Errorf("dir source %s changed while bootstrap was running (now %s, planned %s); run again", src.Dir, sum, src.Identity)
	}
	fmt.Fprintf(log, "copied %s into %s\n", src.Dir, dest)
	return nil
}

// CopyTree copies the tree at from into the existing directory to.
func CopyTree(ctx context.Context, from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			return os.Mkdir(target, mode.Perm()|0o700)
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case mode.IsRegular():
			return copyFile(p, target, mode.Perm())
		default:
			return fmt.Errorf("copy %s: %s files are not supported in sources", p, mode.Type())
		}
	})
}

func copyFile(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}
