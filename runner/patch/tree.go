package patch

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
)

// fileState is the content of one path as the patch being applied sees it.
type fileState struct {
	exists bool
	data   []byte
	// mode holds the permission bits, plus fs.ModeSymlink for a symlink
	// (whose data is then the link target).
	mode    fs.FileMode
	existed bool // present in the tree before this patch
	dirty   bool
}

// overlay holds every file a patch touches in memory until the whole patch
// has applied, so a patch that fails half-way leaves the tree as it was and
// a patch that changes one file twice sees its own first change.
type overlay struct {
	root  *os.Root
	files map[string]*fileState
}

func newOverlay(root *os.Root) *overlay {
	return &overlay{root: root, files: map[string]*fileState{}}
}

// get returns the state of name, reading it from the tree on first use.
func (o *overlay) get(name string) (*fileState, error) {
	if st, ok := o.files[name]; ok {
		return st, nil
	}
	st := &fileState{}
	native := filepath.FromSlash(name)
	fi, err := o.root.Lstat(native)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, fmt.Errorf("%s is a directory", name)
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := o.root.Readlink(native)
		if err != nil {
			return nil, err
		}
		st.exists, st.data, st.mode = true, []byte(target), fs.ModeSymlink|0o777
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", name)
	default:
		data, err := o.root.ReadFile(native)
		if err != nil {
			return nil, err
		}
		st.exists, st.data, st.mode = true, data, fi.Mode().Perm()
	}
	st.existed = st.exists
	o.files[name] = st
	return st, nil
}

// exists reports whether name is present, as anything, as the patch being
// applied sees the tree (so a file an earlier part of it deleted is gone).
func (o *overlay) exists(name string) bool {
	if st, ok := o.files[name]; ok {
		return st.exists
	}
	_, err := o.root.Lstat(filepath.FromSlash(name))
	return err == nil
}

// isDir reports whether dir is a directory in the tree.
func (o *overlay) isDir(dir string) bool {
	fi, err := o.root.Lstat(filepath.FromSlash(dir))
	return err == nil && fi.IsDir()
}

// set records the new content of name.
func (o *overlay) set(name string, data []byte, mode fs.FileMode) {
	st := o.files[name]
	if st == nil {
		st = &fileState{}
		o.files[name] = st
	}
	st.exists, st.data, st.mode, st.dirty = true, data, mode, true
}

// remove records that name is deleted.
func (o *overlay) remove(name string) {
	st := o.files[name]
	if st == nil {
		st = &fileState{existed: true}
		o.files[name] = st
	}
	st.exists, st.data, st.dirty = false, nil, true
}

// commit writes every change to the tree: deletions first (so a file may be
// replaced by a directory of the same name), then new contents, each through
// a temporary file and a rename so no file is ever half-written.
func (o *overlay) commit() error {
	names := make([]string, 0, len(o.files))
	for n, st := range o.files {
		if st.dirty {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		st := o.files[n]
		if st.exists || !st.existed {
			continue
		}
		if err := o.root.Remove(filepath.FromSlash(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", n, err)
		}
		o.removeEmptyParents(n)
	}
	for _, n := range names {
		if st := o.files[n]; st.exists {
			if err := o.write(n, st); err != nil {
				return fmt.Errorf("write %s: %w", n, err)
			}
		}
	}
	return nil
}

// removeEmptyParents deletes directories left empty by a deletion, as GNU
// patch does, so the tree matches one patched by it.
func (o *overlay) removeEmptyParents(name string) {
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		// Remove fails on a non-empty directory, which ends the walk.
		if o.root.Remove(filepath.FromSlash(dir)) != nil {
			return
		}
	}
}

func (o *overlay) write(name string, st *fileState) error {
	native := filepath.FromSlash(name)
	if dir := filepath.Dir(native); dir != "." {
		if err := o.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := filepath.Join(filepath.Dir(native), ".bootstrap-patch-"+strconv.FormatUint(rand.Uint64(), 36))
	if st.mode&fs.ModeSymlink != 0 {
		if err := o.root.Symlink(string(st.data), tmp); err != nil {
			return err
		}
	} else if err := o.writeTemp(tmp, st); err != nil {
		return err
	}
	if err := o.root.Rename(tmp, native); err != nil {
		_ = o.root.Remove(tmp)
		return err
	}
	return nil
}

func (o *overlay) writeTemp(tmp string, st *fileState) error {
	f, err := o.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(st.data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Chmod after creating, so the umask does not change the mode.
		err = o.root.Chmod(tmp, st.mode.Perm())
	}
	if err != nil {
		_ = o.root.Remove(tmp)
	}
	return err
}
