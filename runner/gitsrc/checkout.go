package gitsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// checkout writes c's tree into dest through an os.Root, so no entry (nor a
// symlink in the tree) can make it write outside dest. Submodule entries are
// left as empty directories for the caller.
func checkout(ctx context.Context, c *object.Commit, dest string) error {
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, e, err := w.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := writeEntry(root, tree, name, &e, buf); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

func writeEntry(root *os.Root, tree *object.Tree, name string, e *object.TreeEntry, buf []byte) error {
	switch e.Mode {
	case filemode.Dir, filemode.Submodule:
		return root.MkdirAll(name, 0o755)
	case filemode.Regular, filemode.Deprecated, filemode.Executable, filemode.Symlink:
	default:
		return fmt.Errorf("unsupported mode %v", e.Mode)
	}
	file, err := tree.TreeEntryFile(e)
	if err != nil {
		return err
	}
	r, err := file.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if e.Mode == filemode.Symlink {
		target, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return err
		}
		return root.Symlink(string(target), name)
	}
	perm := os.FileMode(0o644)
	if e.Mode == filemode.Executable {
		perm = 0o755
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(out, r, buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// eachSubmodule calls fn with a source for every submodule of c, in tree
// order, resolving relative submodule URLs against parentURL as git does.
func (f *Fetcher) eachSubmodule(ctx context.Context, parentURL string, c *object.Commit, fn func(plan.Source) error) error {
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("git %s: %w", parentURL, err)
	}
	var links []object.TreeEntry
	var paths []string
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("git %s: %w", parentURL, err)
		}
		if e.Mode == filemode.Submodule {
			links, paths = append(links, e), append(paths, name)
		}
	}
	if len(links) == 0 {
		return nil
	}
	modules, err := readModules(tree)
	if err != nil {
		return fmt.Errorf("git %s: .gitmodules at %s: %w", parentURL, c.Hash, err)
	}
	for i, e := range links {
		m, ok := modules[paths[i]]
		if !ok {
			return fmt.Errorf("git %s: submodule %s has no entry in .gitmodules", parentURL, paths[i])
		}
		u, err := subURL(parentURL, m.URL)
		if err != nil {
			return fmt.Errorf("git %s: submodule %s: %w", parentURL, paths[i], err)
		}
		sub := plan.Source{Kind: "git", Repo: u, Commit: e.Hash.String(), Submodules: true, Dest: paths[i]}
		if err := fn(sub); err != nil {
			return err
		}
	}
	return nil
}

// readModules parses .gitmodules from tree, keyed by submodule path.
func readModules(tree *object.Tree) (map[string]*config.Submodule, error) {
	file, err := tree.File(".gitmodules")
	if err != nil {
		return nil, err
	}
	text, err := file.Contents()
	if err != nil {
		return nil, err
	}
	m := config.NewModules()
	if err := m.Unmarshal([]byte(text)); err != nil {
		return nil, err
	}
	byPath := map[string]*config.Submodule{}
	for _, s := range m.Submodules {
		byPath[path.Clean(s.Path)] = s
	}
	return byPath, nil
}

// subURL resolves a submodule URL; "./x" and "../x" are relative to the
// superproject's URL, taken as a directory.
func subURL(parent, sub string) (string, error) {
	if !strings.HasPrefix(sub, "./") && !strings.HasPrefix(sub, "../") {
		return sub, nil
	}
	u, err := url.Parse(parent)
	switch {
	case err == nil && u.Scheme != "":
	case !strings.Contains(parent, ":"):
		return path.Join(parent, sub), nil
	default:
		return "", errors.New("cannot resolve a relative submodule URL against " + parent)
	}
	u.Path = path.Join(u.Path, sub)
	return u.String(), nil
}
