package treehash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stat is what lstat says about one entry, the fields that change when its
// content may have: size, modification and change times (ns), inode and
// mode. ctime is kept because a tamper that restores the mtime (touch -r)
// cannot restore it.
type Stat struct {
	Mode  uint32 `json:"mode"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
	Ino   uint64 `json:"ino"`
}

// Entry is one path of a tree as Snap saw it: what the tree hash reads and
// the stat fields that tell cheaply whether that may have changed.
type Entry struct {
	// Path is slash-separated and relative to the root; "." is the root.
	Path string `json:"path"`
	// Type is "d" (directory), "f" (regular file), "l" (symlink) or "o"
	// (anything else), as in the tree hash.
	Type string `json:"type"`
	// Digest is a regular file's sha256 (hex) or a symlink's target.
	Digest string `json:"digest,omitempty"`
	Stat   Stat   `json:"stat"`
}

// Snapshot is a file's or tree's content identity with the stat fields of
// every entry, so that a later look can tell "unchanged" from a walk of
// lstat calls alone, and name the first entry that changed when it did.
type Snapshot struct {
	// Hash is Sum of the tree.
	Hash string `json:"hash"`
	// Stat is StatSum of the tree.
	Stat string `json:"stat"`
	// Entries are in walk (lexical) order.
	Entries []Entry `json:"entries"`
}

// StatSum returns "stat:<hex>", a hash over the path, type and Stat of every
// entry of the file or tree at path (directories by path and type only:
// their times change with temporary files that come and go). It reads no
// file content: equal StatSums mean the tree hash need not be taken again.
// It is what every no-op run pays per tree, so it walks with fstatat(2)
// relative to each open directory instead of resolving every full path.
func StatSum(path string) (string, error) {
	h := sha256.New()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return "", &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	buf := appendStat(nil, ".", statFromSys(&st))
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		fd, err := openDir(unix.AT_FDCWD, path)
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", path, err)
		}
		w := statWalker{h: h, dirent: make([]byte, 32<<10)}
		if buf, err = w.dir(buf, fd, path, ""); err != nil {
			return "", fmt.Errorf("hash %s: %w", path, err)
		}
	}
	h.Write(buf)
	return "stat:" + hex.EncodeToString(h.Sum(nil)), nil
}

// statWalker reads a tree's stat fingerprint with raw directory file
// descriptors: a no-op rerun stats every file of every checked tree, and
// os.Open's poller registration and fcntl calls for each directory cost
// as much as the fstatat calls themselves.
type statWalker struct {
	h      hash.Hash
	dirent []byte
}

// openDir opens name (relative to the directory fd at, or AT_FDCWD) as a
// directory, not following a symlink.
func openDir(at int, name string) (int, error) {
	for {
		fd, err := unix.Openat(at, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return fd, nil
	}
}

// dir appends the stat lines of the entries of the directory open as fd
// (which it closes), in lexical order and depth first (the order of
// filepath.WalkDir), to buf, flushing it into the hash as it grows; dir is
// its path for errors, rel its path relative to the root ("" for the
// root).
func (w *statWalker) dir(buf []byte, fd int, dir, rel string) ([]byte, error) {
	defer unix.Close(fd)
	names, err := w.names(fd, dir)
	if err != nil {
		return buf, err
	}
	sort.Strings(names)
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return buf, &fs.PathError{Op: "lstat", Path: filepath.Join(dir, name), Err: err}
		}
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		buf = appendStat(buf, r, statFromSys(&st))
		if len(buf) > 32<<10 {
			w.h.Write(buf)
			buf = buf[:0]
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			sub, err := openDir(fd, name)
			if err != nil {
				return buf, &fs.PathError{Op: "open", Path: filepath.Join(dir, name), Err: err}
			}
			if buf, err = w.dir(buf, sub, filepath.Join(dir, name), r); err != nil {
				return buf, err
			}
		}
	}
	return buf, nil
}

// names lists the directory open as fd, without "." and "..".
func (w *statWalker) names(fd int, dir string) ([]string, error) {
	var names []string
	for {
		n, err := unix.Getdents(fd, w.dirent)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = syscall.ParseDirent(w.dirent[:n], -1, names)
	}
}

// Snap takes the snapshot of the file or tree at path. Regular files whose
// Stat equals their entry in prev (nil: none) are not read again: their
// digest is prev's. Its Hash equals Sum(path).
func Snap(path string, prev *Snapshot) (*Snapshot, error) {
	known := map[string]*Entry{}
	if prev != nil {
		for i := range prev.Entries {
			known[prev.Entries[i].Path] = &prev.Entries[i]
		}
	}
	th, sh := sha256.New(), sha256.New()
	snap := &Snapshot{}
	var line []byte
	err := walk(path, func(p, rel string, fi fs.FileInfo) error {
		e := Entry{Path: rel, Stat: statOf(fi)}
		line = appendStat(line[:0], rel, e.Stat)
		sh.Write(line)
		switch mode := fi.Mode(); {
		case mode.IsDir():
			e.Type = "d"
			fmt.Fprintf(th, "d %q\n", rel)
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.Type, e.Digest = "l", target
			fmt.Fprintf(th, "l %q %q\n", rel, target)
		case mode.IsRegular():
			e.Type = "f"
			if k := known[rel]; k != nil && k.Type == "f" && k.Stat == e.Stat {
				e.Digest = k.Digest
			} else {
				sum, err := FileSHA256(p)
				if err != nil {
					return err
				}
				e.Digest = sum
			}
			fmt.Fprintf(th, "f %q %v %s\n", rel, mode&0o111 != 0, e.Digest)
		default:
			e.Type = "o"
			fmt.Fprintf(th, "o %q %v\n", rel, mode.Type())
		}
		snap.Entries = append(snap.Entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	snap.Hash = "sha256:" + hex.EncodeToString(th.Sum(nil))
	snap.Stat = "stat:" + hex.EncodeToString(sh.Sum(nil))
	return snap, nil
}

// FirstChange names the first entry (in walk order) that differs between
// an earlier snapshot s and cur, as "PATH changed", "PATH added" or "PATH
// removed"; "" when their contents are the same. Stat-only differences do
// not count.
func (s *Snapshot) FirstChange(cur *Snapshot) string {
	old := make(map[string]*Entry, len(s.Entries))
	for i := range s.Entries {
		old[s.Entries[i].Path] = &s.Entries[i]
	}
	seen := make(map[string]bool, len(cur.Entries))
	for i := range cur.Entries {
		e := &cur.Entries[i]
		seen[e.Path] = true
		o := old[e.Path]
		switch {
		case o == nil:
			return e.Path + " added"
		case o.Type != e.Type || o.Digest != e.Digest ||
			(e.Type == "f" && o.Stat.Mode&0o111 != e.Stat.Mode&0o111):
			return e.Path + " changed"
		}
	}
	for _, e := range s.Entries {
		if !seen[e.Path] {
			return e.Path + " removed"
		}
	}
	return ""
}

// walk calls fn for the file at root, or for every entry of the tree at
// root in lexical order (the order Sum hashes in), with its path relative
// to root. Errors name the path.
func walk(root string, fn func(p, rel string, fi fs.FileInfo) error) error {
	fi, err := os.Lstat(root)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fn(root, ".", fi)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(p, filepath.ToSlash(rel), info)
	})
	if err != nil {
		return fmt.Errorf("hash %s: %w", root, err)
	}
	return nil
}

// statOf is the Stat of an lstat result; Mode is the raw st_mode.
func statOf(fi fs.FileInfo) Stat {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return Stat{Mode: uint32(sys.Mode), Size: int64(sys.Size), Mtime: sys.Mtim.Nano(),
			Ctime: sys.Ctim.Nano(), Ino: uint64(sys.Ino)}
	}
	return Stat{Mode: uint32(fi.Mode()), Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
}

func statFromSys(st *unix.Stat_t) Stat {
	return Stat{Mode: uint32(st.Mode), Size: int64(st.Size), Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(), Ino: uint64(st.Ino)}
}

// appendStat appends one entry's line of the stat fingerprint: the path
// (NUL-terminated: no path holds a NUL) and, except for a directory, its
// Stat fields.
func appendStat(buf []byte, rel string, st Stat) []byte {
	buf = append(buf, rel...)
	buf = append(buf, 0)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return append(buf, 'd', '\n')
	}
	buf = strconv.AppendUint(buf, uint64(st.Mode), 8)
	for _, n := range []int64{st.Size, st.Mtime, st.Ctime} {
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, n, 10)
	}
	buf = append(buf, ' ')
	buf = strconv.AppendUint(buf, st.Ino, 10)
	return append(buf, '\n')
}

// FileSHA256 is the hex sha256 of a file's content; errors name the file.
func FileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
