package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CachePath is where the cache under cacheDir keeps the file whose sha256 is
// hex: <cache>/sha256/<hex>.
func CachePath(cacheDir, hex string) string {
	return filepath.Join(cacheDir, "sha256", hex)
}

// partialPath is where an interrupted download of hex is kept for resuming.
func partialPath(cacheDir, hex string) string {
	return filepath.Join(cacheDir, "partial", hex)
}

// CacheAdd stores each file in the cache under its sha256 and returns the
// hex digests in the same order. A file already cached is hashed but not
// copied again. It returns the first error, naming the file.
func CacheAdd(cacheDir string, files ...string) ([]string, error) {
	var sums []string
	for _, file := range files {
		sum, err := cacheAddOne(cacheDir, file)
		if err != nil {
			return sums, fmt.Errorf("cache add %s: %w", file, err)
		}
		sums = append(sums, sum)
	}
	return sums, nil
}

func cacheAddOne(cacheDir, file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tmp, err := newTemp(cacheDir)
	if err != nil {
		return "", err
	}
	defer tmp.discard()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp.f, h), f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if exists(CachePath(cacheDir, sum)) {
		return sum, nil
	}
	return sum, tmp.commit(CachePath(cacheDir, sum))
}

// temp is a file being written in the cache; it only ever appears under a
// final name through commit (fsync + rename), so a crash leaves at most a
// stray temp file, never a wrong cache entry.
type temp struct {
	f    *os.File
	done bool
}

func newTemp(cacheDir string) (*temp, error) {
	dir := filepath.Join(cacheDir, "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "dl-*")
	if err != nil {
		return nil, err
	}
	return &temp{f: f}, nil
}

// commit syncs the file and renames it to final.
func (t *temp) commit(final string) error {
	return commitFile(t.f, final, func() { t.done = true })
}

// discard removes the temp file unless it was committed.
func (t *temp) discard() {
	if !t.done {
		t.f.Close()
		os.Remove(t.f.Name())
	}
}

// commitFile fsyncs f, closes it and renames it to final, then syncs the
// directory so the rename survives a power cut.
func commitFile(f *os.File, final string, committed func()) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return err
	}
	committed()
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
