package unpack

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// maxLinkDepth bounds symlink chains, like the kernel's ELOOP limit.
const maxLinkDepth = 40

// extractor writes entries below one directory through an os.Root, and keeps
// what it needs to check every path against the symlinks it has created.
type extractor struct {
	archive string
	root    *os.Root
	// prefix is where entries go inside root ("" for root itself); links
	// are checked against root, so a link may point anywhere in the tree.
	prefix string
	// links maps each symlink created so far (clean path relative to dest)
	// to its target, so that a path can be resolved as the kernel will.
	links map[string]string
	// dirs are set to their final mode and mtime at the end, since creating
	// entries inside a directory changes its mtime.
	dirs []dirMeta
	// parent caches the last parent directory opened, as archives list a
	// directory's files together; this saves walking the path per entry.
	parentName string
	parent     *os.Root
	buf        []byte
}

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

// entryError reports a refused or failed entry, naming archive and entry.
func (x *extractor) entryError(entry string, err error) error {
	return fmt.Errorf("unpack %s: entry %q: %w", x.archive, entry, err)
}

func newExtractor(archive string, dst Dest) (*extractor, error) {
	prefix, err := name(dst.Sub, 0)
	if err != nil {
		return nil, fmt.Errorf("unpack %s into %q: %w", archive, dst.Sub, err)
	}
	if err := os.MkdirAll(dst.Root, 0o755); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", archive, err)
	}
	root, err := os.OpenRoot(dst.Root)
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", archive, err)
	}
	return &extractor{archive: archive, root: root, prefix: prefix, links: map[string]string{}, buf: make([]byte, 128<<10)}, nil
}

// name is the package's name function, placed under the prefix.
func (x *extractor) name(entry string, strip int) (string, error) {
	rel, err := name(entry, strip)
	if rel == "" || err != nil || x.prefix == "" {
		return rel, err
	}
	return x.prefix + "/" + rel, nil
}

func (x *extractor) close() {
	x.sweep()
	if x.parent != nil {
		x.parent.Close()
	}
	x.root.Close()
}

// name turns an archive entry name into a clean path relative to dest with
// strip leading components removed; "" means the entry is stripped away.
func name(entry string, strip int) (string, error) {
	if strings.HasPrefix(entry, "/") {
		return "", errors.New("absolute path")
	}
	parts := strings.Split(entry, "/")
	kept := parts[:0]
	for _, p := range parts {
		switch p {
		case "", ".":
		case "..":
			return "", errors.New("path contains \"..\"")
		default:
			kept = append(kept, p)
		}
	}
	if len(kept) <= strip {
		return "", nil
	}
	return strings.Join(kept[strip:], "/"), nil
}

// resolve returns where rel (relative to the directory base, both may hold
// ".." and symlinks created earlier) really points, as a clean path relative
// to dest, or an error when it climbs out of dest.
func (x *extractor) resolve(base []string, rel string, depth int) ([]string, error) {
	cur := slices.Clone(base)
	for _, p := range strings.Split(rel, "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return nil, errors.New("escapes the destination")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, p)
		target, ok := x.links[strings.Join(cur, "/")]
		if !ok {
			continue
		}
		if depth >= maxLinkDepth {
			return nil, errors.New("too many levels of symbolic links")
		}
		if path.IsAbs(target) {
			return nil, fmt.Errorf("passes through symlink %s -> %s, which escapes the destination", strings.Join(cur, "/"), target)
		}
		var err error
		if cur, err = x.resolve(cur[:len(cur)-1], target, depth+1); err != nil {
			return nil, err
		}
	}
	return cur, nil
}

// place resolves the parent directory of rel and returns an os.Root for it
// (creating it if needed) and the entry's base name.
func (x *extractor) place(rel string) (*os.Root, string, error) {
	dir, base := path.Split(rel)
	parts, err := x.resolve(nil, dir, 0)
	if err != nil {
		return nil, "", err
	}
	parent := strings.Join(parts, "/")
	if parent == "" {
		parent = "."
	}
	if x.parent != nil && x.parentName == parent {
		return x.parent, base, nil
	}
	if x.parent != nil {
		x.parent.Close()
		x.parent = nil
	}
	if err := x.root.MkdirAll(parent, 0o755); err != nil {
		return nil, "", err
	}
	r, err := x.root.OpenRoot(parent)
	if err != nil {
		return nil, "", err
	}
	x.parent, x.parentName = r, parent
	return r, base, nil
}

// clear removes whatever non-directory is at base so an entry can replace
// it, as tar does; it never writes through an existing link.
func clear(r *os.Root, base string) error {
	st, err := r.Lstat(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("would replace a directory")
	}
	return r.Remove(base)
}

func (x *extractor) dir(entry, rel string, mode fs.FileMode, mtime time.Time) error {
	if rel == "" {
		return nil
	}
	r, base, err := x.place(rel)
	if err != nil {
		return x.entryError(entry, err)
	}
	st, err := r.Lstat(base)
	switch {
	case err == nil && !st.IsDir():
		if err := clear(r, base); err != nil {
			return x.entryError(entry, err)
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		// Owner rwx while extracting, so a read-only directory can be
		// filled; the exact mode is set at the end.
		if err := r.Mkdir(base, 0o700); err != nil {
			return x.entryError(entry, err)
		}
	case err != nil:
		return x.entryError(entry, err)
	}
	phys := path.Join(x.parentName, base)
	delete(x.links, phys)
	x.dirs = append(x.dirs, dirMeta{phys, mode.Perm(), mtime})
	return nil
}

func (x *extractor) file(entry, rel string, mode fs.FileMode, mtime time.Time, content io.Reader) error {
	if rel == "" {
		return nil
	}
	r, base, err := x.place(rel)
	if err != nil {
		return x.entryError(entry, err)
	}
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL | syscall.O_NOFOLLOW
	f, err := r.OpenFile(base, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if err := clear(r, base); err != nil {
			return x.entryError(entry, err)
		}
		f, err = r.OpenFile(base, flags, 0o600)
	}
	if err != nil {
		return x.entryError(entry, err)
	}
	delete(x.links, path.Join(x.parentName, base))
	_, err = io.CopyBuffer(f, content, x.buf)
	if err == nil {
		err = f.Chmod(mode.Perm())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !mtime.IsZero() {
		err = r.Chtimes(base, mtime, mtime)
	}
	if err != nil {
		return x.entryError(entry, err)
	}
	return nil
}

func (x *extractor) symlink(entry, rel, target string) error {
	if rel == "" {
		return nil
	}
	if path.IsAbs(target) {
		return x.entryError(entry, fmt.Errorf("symlink to absolute path %s", target))
	}
	dir, _ := path.Split(rel)
	parts, err := x.resolve(nil, dir, 0)
	if err == nil {
		_, err = x.resolve(parts, target, 0)
	}
	if err != nil {
		return x.entryError(entry, fmt.Errorf("symlink to %s: %w", target, err))
	}
	r, base, err := x.place(rel)
	if err == nil {
		err = clear(r, base)
	}
	if err == nil {
		err = r.Symlink(target, base)
	}
	if err != nil {
		return x.entryError(entry, err)
	}
	x.links[path.Join(x.parentName, base)] = target
	return nil
}

func (x *extractor) hardlink(entry, rel, target string, strip int) error {
	if rel == "" {
		return nil
	}
	old, err := x.name(target, strip)
	if err == nil && old == "" {
		err = errors.New("stripped away")
	}
	if err != nil {
		return x.entryError(entry, fmt.Errorf("hard link to %s: %w", target, err))
	}
	parts, err := x.resolve(nil, old, 0)
	if err != nil {
		return x.entryError(entry, fmt.Errorf("hard link to %s: %w", target, err))
	}
	r, base, err := x.place(rel)
	if err == nil {
		err = clear(r, base)
	}
	if err != nil {
		return x.entryError(entry, err)
	}
	// Link with paths relative to the root: both resolved above.
	phys := path.Join(x.parentName, base)
	if err := x.root.Link(strings.Join(parts, "/"), phys); err != nil {
		return x.entryError(entry, err)
	}
	delete(x.links, phys)
	return nil
}

// sweep removes every symlink that no longer resolves inside dest (a later
// entry may have changed what an earlier link's path resolves through) and
// returns an error naming the first. It runs after an error too, so that a
// refused archive leaves no escaping link behind.
func (x *extractor) sweep() error {
	var first error
	for name, target := range x.links {
		dir, _ := path.Split(name)
		parts, err := x.resolve(nil, dir, 0)
		if err == nil {
			_, err = x.resolve(parts, target, 0)
		}
		if err != nil {
			x.root.Remove(name)
			delete(x.links, name)
			if first == nil {
				first = x.entryError(name, fmt.Errorf("symlink to %s: %w", target, err))
			}
		}
	}
	return first
}

// finish sweeps the links, then sets directory modes and mtimes, deepest
// first. Directories stay owner-rwx so that the tree can be patched and
// removed.
func (x *extractor) finish() error {
	if err := x.sweep(); err != nil {
		return err
	}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := x.root.Chmod(d.name, d.mode|0o700); err != nil {
			return x.entryError(d.name, err)
		}
		if !d.mtime.IsZero() {
			if err := x.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
				return x.entryError(d.name, err)
			}
		}
	}
	return nil
}
