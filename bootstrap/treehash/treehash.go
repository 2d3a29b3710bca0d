// Package treehash computes a content identity for a directory tree or a
// file: every path, its type, its executable bit, its content and its
// symlink target go in; times, owners and the tree's own location do not, so
// the same tree hashes the same wherever and whenever it is copied.
package treehash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Sum returns "sha256:<hex>" for the file or tree at path. A missing path is
// an error naming it.
func Sum(path string) (string, error) {
	h := sha256.New()
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		if err := entry(h, path, ".", fi); err != nil {
			return "", err
		}
		return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
	}
	// WalkDir visits in lexical order, which makes the hash deterministic.
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return entry(h, p, filepath.ToSlash(rel), info)
	})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func entry(h io.Writer, p, rel string, fi fs.FileInfo) error {
	switch mode := fi.Mode(); {
	case mode.IsDir():
		fmt.Fprintf(h, "d %q\n", rel)
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "l %q %q\n", rel, target)
	case mode.IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fh := sha256.New()
		if _, err := io.Copy(fh, f); err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		fmt.Fprintf(h, "f %q %v %x\n", rel, mode&0o111 != 0, fh.Sum(nil))
	default:
		fmt.Fprintf(h, "o %q %v\n", rel, mode.Type())
	}
	return nil
}
