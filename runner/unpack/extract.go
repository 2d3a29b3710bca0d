package unpack

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"strings"
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
	// linksMayEscape keeps symlinks that point outside (see TreeOptions);
	// they are left out of links' checks but still never followed.
	linksMayEscape bool
	// dirs are set to their final mode and mtime at the end, since creating
	// entries inside a directory changes its mtime.
	dirs []dirMeta
	// parent caches the last parent directory opened, as archives list a
	// directory's files together; this saves walking the path per entry.
	parent *dirHandle
	// writers create the small files; queued holds the paths handed to
	// them since they were last waited for, so that an entry of the same
	// path waits for them instead of racing them.
	writers *writers
	queued  map[string]bool
	buf     []byte
	// left is how many more bytes the archive's files may take (see
	// Dest.MaxSize); limit is the whole, for errors; a Tree has none.
	left, limit int64
}

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

// entryError reports a refused or failed entry, naming archive and entry,
// unless err already names one (an error a writer met, passed on).
func (x *extractor) entryError(entry string, err error) error {
	if _, ok := err.(*EntryError); ok {
		return err
	}
	return &EntryError{Archive: x.archive, Entry: entry, Err: err}
}

// EntryError is an archive entry that was refused or could not be written.
type EntryError struct {
	Archive string // "" for a Tree
	Entry   string // as the archive names it
	Err     error
}

// Error names the archive (when there is one), the entry and the cause.
func (e *EntryError) Error() string {
	if e.Archive == "" { // a Tree's: its caller names the source
		return fmt.Sprintf("entry %q: %v", e.Entry, e.Err)
	}
	return fmt.Sprintf("unpack %s: entry %q: %v", e.Archive, e.Entry, e.Err)
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *EntryError) Unwrap() error { return e.Err }

// newExtractor starts writing into dst; archive names the archive in
// errors ("" for a Tree, whose caller names its source).
func newExtractor(archive string, dst Dest) (*extractor, error) {
	op := "unpack " + archive
	if archive == "" {
		op = "write tree"
	}
	prefix, err := name(dst.Sub, 0)
	if err != nil {
		return nil, fmt.Errorf("%s into %q: %w", op, dst.Sub, err)
	}
	if err := os.MkdirAll(dst.Root, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	root, err := os.OpenRoot(dst.Root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	limit := dst.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	if archive == "" {
		limit = math.MaxInt64 // a Tree: its caller bounds what it writes
	}
	return &extractor{
		left:    limit,
		limit:   limit,
		archive: archive,
		root:    root,
		prefix:  prefix,
		links:   map[string]string{},
		writers: newWriters(archive),
		queued:  map[string]bool{},
		buf:     make([]byte, 128<<10),
	}, nil
}

// name is the package's name function, placed under the prefix.
func (x *extractor) name(entry string, strip int) (string, error) {
	rel, err := name(entry, strip)
	if rel == "" || err != nil || x.prefix == "" {
		return rel, err
	}
	return x.prefix + "/" + rel, nil
}

// close waits for the writers, removes any escaping link (after an error)
// and closes what the extractor opened.
func (x *extractor) close() {
	x.writers.stop()
	x.sweep()
	if x.parent != nil {
		x.parent.release()
	}
	x.root.Close()
}

// settle waits for the writers when rel, a resolved path, was handed to them
// and may not be written yet; it returns the first error they met.
func (x *extractor) settle(rel string) error {
	if !x.queued[rel] {
		return x.writers.failed()
	}
	return x.drain()
}

// drain waits until every queued file is written and returns the first
// error the writers met.
func (x *extractor) drain() error {
	clear(x.queued)
	return x.writers.wait()
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

// place resolves the parent directory of rel and returns it (created if
// needed) and the entry's base name.
func (x *extractor) place(rel string) (*dirHandle, string, error) {
	dir, base := path.Split(rel)
	parts, err := x.resolve(nil, dir, 0)
	if err != nil {
		return nil, "", err
	}
	parent := strings.Join(parts, "/")
	if parent == "" {
		parent = "."
	}
	if x.parent != nil && x.parent.name == parent {
		return x.parent, base, nil
	}
	if x.parent != nil {
		x.parent.release()
		x.parent = nil
	}
	// A file still queued at parent, or above it, must exist before it
	// is refused as a directory or replaced.
	for p := parent; p != "."; p = path.Dir(p) {
		if x.queued[p] {
			if err := x.drain(); err != nil {
				return nil, "", err
			}
			break
		}
	}
	d, err := openDir(x.root, parent)
	if err != nil {
		return nil, "", err
	}
	x.parent = d
	return d, base, nil
}

// makeRoom removes whatever non-directory is at base so an entry can replace
// it, as tar does; it never writes through an existing link.
func makeRoom(r *os.Root, base string) error {
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
	d, base, err := x.place(rel)
	if err != nil {
		return x.entryError(entry, err)
	}
	if err := x.settle(path.Join(d.name, base)); err != nil {
		return err
	}
	r := d.root
	st, err := r.Lstat(base)
	switch {
	case err == nil && !st.IsDir():
		if err := makeRoom(r, base); err != nil {
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
	phys := path.Join(d.name, base)
	delete(x.links, phys)
	x.dirs = append(x.dirs, dirMeta{phys, mode.Perm(), mtime})
	return nil
}

// account counts size bytes of entry against the archive's limit and
// returns a *TooLargeError when they pass it.
func (x *extractor) account(entry string, size int64) error {
	if size > x.left {
		return &TooLargeError{Archive: x.archive, Entry: entry, Limit: x.limit}
	}
	x.left -= size
	return nil
}

// file creates a regular file of size bytes read from content: queued for
// the writers when small, else streamed here. A size < 0 (a zip's large
// entry) must have been accounted by the caller.
func (x *extractor) file(entry, rel string, mode fs.FileMode, mtime time.Time, size int64, content io.Reader) error {
	if size >= 0 {
		if err := x.account(entry, size); err != nil {
			return err
		}
	}
	if rel == "" {
		return nil
	}
	d, base, err := x.place(rel)
	if err != nil {
		return x.entryError(entry, err)
	}
	phys := path.Join(d.name, base)
	if err := x.settle(phys); err != nil {
		return err
	}
	delete(x.links, phys)
	if size < 0 || size > maxQueued {
		if err := x.writers.perms.streamFile(d, base, mode, mtime, size, content, x.buf); err != nil {
			return x.entryError(entry, err)
		}
		return nil
	}
	buf := x.writers.buffer(int(size))
	data, err := readFull(content, buf, int(size))
	if err != nil {
		x.writers.free <- buf[:0]
		return x.entryError(entry, err)
	}
	x.writers.queue(writeJob{entry: entry, dir: d, base: base, mode: mode, mtime: mtime, data: data})
	x.queued[phys] = true
	return nil
}

func (x *extractor) symlink(entry, rel, target string) error {
	if rel == "" {
		return nil
	}
	if err := x.checkLink(rel, target); err != nil {
		return x.entryError(entry, err)
	}
	d, base, err := x.place(rel)
	if err != nil {
		return x.entryError(entry, err)
	}
	phys := path.Join(d.name, base)
	if err := x.settle(phys); err != nil {
		return err
	}
	err = makeRoom(d.root, base)
	if err == nil {
		err = d.root.Symlink(target, base)
	}
	if err != nil {
		return x.entryError(entry, err)
	}
	x.links[phys] = target
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
	// The target may still be queued: wait for every file (hard links
	// are rare in source archives).
	if err := x.drain(); err != nil {
		return err
	}
	d, base, err := x.place(rel)
	if err == nil {
		err = makeRoom(d.root, base)
	}
	if err != nil {
		return x.entryError(entry, err)
	}
	// Link with paths relative to the root: both resolved above.
	phys := path.Join(d.name, base)
	if err := x.root.Link(strings.Join(parts, "/"), phys); err != nil {
		return x.entryError(entry, err)
	}
	delete(x.links, phys)
	return nil
}

// checkLink returns an error when a symlink at rel to target would point
// outside the destination, unless such links are allowed.
func (x *extractor) checkLink(rel, target string) error {
	if x.linksMayEscape {
		return nil
	}
	if path.IsAbs(target) {
		return fmt.Errorf("symlink to absolute path %s", target)
	}
	dir, _ := path.Split(rel)
	parts, err := x.resolve(nil, dir, 0)
	if err == nil {
		_, err = x.resolve(parts, target, 0)
	}
	if err != nil {
		return fmt.Errorf("symlink to %s: %w", target, err)
	}
	return nil
}

// sweep removes every symlink that no longer resolves inside dest (a later
// entry may have changed what an earlier link's path resolves through) and
// returns an error naming the first. It runs after an error too, so that a
// refused archive leaves no escaping link behind.
func (x *extractor) sweep() error {
	var first error
	for name, target := range x.links {
		if err := x.checkLink(name, target); err != nil {
			x.root.Remove(name)
			delete(x.links, name)
			if first == nil {
				first = x.entryError(name, err)
			}
		}
	}
	return first
}

// finish sweeps the links, then sets directory modes and mtimes, deepest
// first. Directories stay owner-rwx so that the tree can be patched and
// removed.
func (x *extractor) finish() error {
	if err := x.writers.stop(); err != nil {
		return err
	}
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
