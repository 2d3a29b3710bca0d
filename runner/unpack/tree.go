package unpack

import (
	"errors"
	"io"
	"io/fs"
	"time"
)

// Tree writes a tree that comes from elsewhere than an archive (a git
// commit's, say) the way an archive is unpacked: every write confined to
// the destination, small files created by a few goroutines, and entries of
// the same path applied in order. Close it once, after the last entry.
type Tree struct {
	x *extractor
}

// TreeOptions say how a Tree treats what archives may not hold.
type TreeOptions struct {
	// LinksMayEscape keeps symlinks whose target is absolute or outside
	// the destination, as git checks them out; nothing is ever written
	// through such a link.
	LinksMayEscape bool
}

// NewTree starts a tree at dest. Its errors name the entry, not the tree:
// the caller says where the tree comes from.
func NewTree(dest Dest, opts TreeOptions) (*Tree, error) {
	x, err := newExtractor("", dest)
	if err != nil {
		return nil, err
	}
	x.linksMayEscape = opts.LinksMayEscape
	return &Tree{x: x}, nil
}

// path checks that entry is a clean relative path ("a/b/c") and returns
// where it goes.
func (t *Tree) path(entry string) (string, error) {
	rel, err := name(entry, 0)
	if err == nil && (rel == "" || len(rel) != len(entry)) {
		err = errors.New("not a clean relative path")
	}
	if err != nil {
		return "", t.x.entryError(entry, err)
	}
	return t.x.name(entry, 0)
}

// Dir creates the directory entry (and any missing parent) with mode; a
// zero mtime leaves the time of creation.
func (t *Tree) Dir(entry string, mode fs.FileMode, mtime time.Time) error {
	rel, err := t.path(entry)
	if err != nil {
		return err
	}
	return t.x.dir(entry, rel, mode, mtime)
}

// File creates entry with size bytes read from r (size < 0: unknown).
func (t *Tree) File(entry string, mode fs.FileMode, mtime time.Time, size int64, r io.Reader) error {
	rel, err := t.path(entry)
	if err != nil {
		return err
	}
	return t.x.file(entry, rel, mode, mtime, size, r)
}

// Symlink creates entry as a symlink to target.
func (t *Tree) Symlink(entry, target string) error {
	rel, err := t.path(entry)
	if err != nil {
		return err
	}
	return t.x.symlink(entry, rel, target)
}

// Close waits for every file to be written, sets the directories' modes and
// times, and returns the first error met by any entry; it releases
// everything, even after an error.
func (t *Tree) Close() error {
	err := t.x.finish()
	t.x.close()
	return err
}
