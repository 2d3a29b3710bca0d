package remote

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Unpack replaces the recipe dir of key with the regular files of the tar
// stream r (the recipe, its bases and patches, as Bundle packs them).
func (a Agent) Unpack(key string, r io.Reader) error {
	if err := checkKey(key); err != nil {
		return err
	}
	dst := a.RecipeDir(key)
	tmp := dst + ".new"
	os.RemoveAll(tmp)
	if err := untar(r, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("unpack the recipe of %s: %w", key, err)
	}
	old := dst + ".old"
	os.RemoveAll(old)
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unpack the recipe of %s: %w", key, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("unpack the recipe of %s: %w", key, err)
	}
	return os.RemoveAll(old)
}

// Get writes a tar stream of the given paths (relative to the work dir of
// key; directories recursively) to w. Missing paths are left out: the
// caller checks what it needed.
func (a Agent) Get(key string, paths []string, w io.Writer) error {
	if err := checkKey(key); err != nil {
		return err
	}
	root := a.WorkDir(key)
	tw := tar.NewWriter(w)
	for _, p := range paths {
		rel, err := localRel(p)
		if err != nil {
			return err
		}
		err = filepath.WalkDir(filepath.Join(root, rel), func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			name, _ := filepath.Rel(root, path)
			return addFile(tw, path, filepath.ToSlash(name))
		})
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
	}
	return tw.Close()
}

// tarDir writes the regular files under dir to w as a tar stream, with
// names relative to dir.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir() && name != ".":
			// Empty directories matter: git wants refs/ in a repository.
			return tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(name) + "/", Mode: 0o755, Typeflag: tar.TypeDir})
		case d.Type().IsRegular():
			return addFile(tw, p, filepath.ToSlash(name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pack %s: %w", dir, err)
	}
	return tw.Close()
}

// addFile writes the regular file path into tw as name.
func addFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, fi.Size())
	return err
}

// localRel checks that p is a relative path that stays inside its root.
func localRel(p string) (string, error) {
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("path %q is not inside the work dir", p)
	}
	return filepath.Clean(p), nil
}

// untar writes the regular files and directories of the tar stream r
// under dir, which it creates; other entry types and names leaving dir
// are errors.
func untar(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			return fmt.Errorf("%s: only regular files and directories are expected", h.Name)
		}
		rel, err := localRel(strings.TrimPrefix(h.Name, "./"))
		if err != nil {
			return err
		}
		p := filepath.Join(dir, rel)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()|0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
}
