package buildcache

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Key is a component's key in the cache: the sha256 of its name and the
// signatures of its steps up to its last build step, in order. The name
// is in it because two components whose steps happen to hash alike (the
// same command on the same upstream) still have different trees.
func Key(component string, signatures []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "bootstrap component v1\n%s\n", component)
	for _, s := range signatures {
		fmt.Fprintf(h, "%s\n", s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Pack writes the trees under workDir named by trees (slash-separated
// paths relative to it) to w as a zstd-compressed tar, each entry named
// by its path relative to workDir, in lexical order, with its mode and
// modification time (a make that looks at times must find the restored
// tree as new as it was). Regular files, directories and symlinks are
// packed; anything else (a socket, a fifo) is an error naming it, as is
// a tree that does not exist.
func Pack(ctx context.Context, workDir string, trees []string, w io.Writer) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, t := range trees {
		root := filepath.Join(workDir, filepath.FromSlash(t))
		if _, err := os.Lstat(root); err != nil {
			return fmt.Errorf("pack %s: %w", t, err)
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, err := filepath.Rel(workDir, p)
			if err != nil {
				return err
			}
			return addEntry(tw, p, filepath.ToSlash(rel), d)
		})
		if err != nil {
			return fmt.Errorf("pack %s: %w", t, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// addEntry writes one file, directory or symlink.
func addEntry(tw *tar.Writer, p, name string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime(), Format: tar.FormatPAX}
	switch m := fi.Mode(); {
	case m.IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case m.IsRegular():
		hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
	default:
		return fmt.Errorf("%s is a %v: only files, directories and symlinks can be cached", p, m.Type())
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%s changed size while it was packed", p)
	}
	return err
}

// Unpack extracts an archive made by Pack into dest (which it creates),
// accepting only entries inside one of trees (as in Pack) and never
// writing through a symlink (os.Root): whatever the archive holds, it
// lands under dest. Modes and modification times are restored,
// directories' last (a read-only directory gets its files first).
// Errors name the entry.
func Unpack(ctx context.Context, r io.Reader, dest string, trees []string) error {
	zr, err := zstd.NewReader(r)
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	type dirTime struct {
		name string
		mode fs.FileMode
		t    time.Time
	}
	var dirs []dirTime
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if !inTrees(name, trees) {
			return fmt.Errorf("unpack: entry %q is outside the component's trees", hdr.Name)
		}
		local := filepath.FromSlash(name)
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm
		if parent := filepath.Dir(local); parent != "." {
			// A tree that is one file (install/tool) has no directory
			// entry above it.
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", name, err)
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			// Its mode is set at the end: a read-only directory must
			// still take its files.
			if err := root.MkdirAll(local, 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", name, err)
			}
			dirs = append(dirs, dirTime{local, mode, hdr.ModTime})
		case tar.TypeSymlink:
			if err := root.Symlink(hdr.Linkname, local); err != nil {
				return fmt.Errorf("unpack %s: %w", name, err)
			}
		case tar.TypeReg:
			if err := writeFile(root, local, mode, tr); err != nil {
				return fmt.Errorf("unpack %s: %w", name, err)
			}
			if err := root.Chtimes(local, hdr.ModTime, hdr.ModTime); err != nil {
				return fmt.Errorf("unpack %s: %w", name, err)
			}
		default:
			return fmt.Errorf("unpack: entry %q has type %q, which Pack never writes", hdr.Name, strconv.Itoa(int(hdr.Typeflag)))
		}
	}
	// Deepest first, so that setting a child's time does not move its
	// parent's again.
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].name > dirs[j].name })
	for _, d := range dirs {
		if err := root.Chmod(d.name, d.mode); err != nil {
			return fmt.Errorf("unpack %s: %w", d.name, err)
		}
		if err := root.Chtimes(d.name, d.t, d.t); err != nil {
			return fmt.Errorf("unpack %s: %w", d.name, err)
		}
	}
	return nil
}

// writeFile creates name under root with mode and r's content.
func writeFile(root *os.Root, name string, mode fs.FileMode, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Chmod(name, mode) // the umask may have taken bits away
	}
	return err
}

// inTrees reports whether the slash path name is one of trees or inside
// one.
func inTrees(name string, trees []string) bool {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || !fs.ValidPath(name) {
		return false
	}
	for _, t := range trees {
		if name == t || strings.HasPrefix(name, t+"/") {
			return true
		}
	}
	return false
}
