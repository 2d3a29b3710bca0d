package buildcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileStore is a cache in a plain directory (a local disk, an NFS or SMB
// share):
//
//	DIR/records/<key>.json        the signed record (DSSE envelope)
//	DIR/blobs/sha256/<hex>        archives, by content
//
// Every file is written to a temporary name and renamed, so that a
// reader on another machine sees a whole file or none.
type FileStore struct {
	url string
	dir string
}

func (s *FileStore) String() string { return s.url }

func (s *FileStore) recordPath(key string) string {
	return filepath.Join(s.dir, "records", key+".json")
}

func (s *FileStore) blobPath(digest string) (string, error) {
	hexd, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexd) != 64 || strings.Trim(hexd, "0123456789abcdef") != "" {
		return "", fmt.Errorf("archive digest %q is not sha256:<64 hex digits>", digest)
	}
	return filepath.Join(s.dir, "blobs", "sha256", hexd), nil
}

// Record implements Store.
func (s *FileStore) Record(_ context.Context, key string) ([]byte, error) {
	data, err := os.ReadFile(s.recordPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", s.url, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", s.url, err)
	}
	return data, nil
}

// Archive implements Store.
func (s *FileStore) Archive(_ context.Context, b Blob) (io.ReadCloser, error) {
	p, err := s.blobPath(b.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("cache %s: archive: %w", s.url, err)
	}
	return f, nil
}

// Push implements Store.
func (s *FileStore) Push(_ context.Context, key string, record []byte, b Blob, archive string) error {
	p, err := s.blobPath(b.Digest)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != b.Size {
		if err := copyInto(archive, p); err != nil {
			return fmt.Errorf("cache %s: %w", s.url, err)
		}
	}
	if err := writeInto(s.recordPath(key), func(w io.Writer) error { _, err := w.Write(record); return err }); err != nil {
		return fmt.Errorf("cache %s: %w", s.url, err)
	}
	return nil
}

// copyInto copies the file src to dst through a temporary file.
func copyInto(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeInto(dst, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
}

// writeInto writes dst (and its directory) with fill, through a temporary
// file in the same directory that is synced and renamed.
func writeInto(dst string, fill func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return os.Rename(f.Name(), dst)
}
