package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockPoll is how often a process waiting for a cache entry's lock tries
// again.
const lockPoll = 50 * time.Millisecond

// LockEntry takes the exclusive lock of one cache entry, key (a file name
// under <cache>/locks), waiting while another process holds it, and returns
// the function that releases it. Two runs that share a cache take turns at
// filling an entry, so neither sees the other's partial download or
// half-fetched repository. The lock is an flock(2), dropped by the kernel
// when its holder dies, so a killed run never blocks the next one. what
// names the entry in the one line logged when it has to wait.
//
// A cache that cannot be written (a read-only mount of a filled cache, on
// a board or in a container) is still usable for reading: the lock is
// then taken on the existing lock file opened read-only (flock needs no
// write access), or not at all when there is none, since an entry is
// complete and immutable once renamed into place. Whatever must be
// written afterwards fails on its own, naming the cache (see Writable).
func LockEntry(ctx context.Context, cacheDir, key, what string, log io.Writer) (func(), error) {
	f, err := OpenLock(filepath.Join(cacheDir, "locks"), key)
	if err != nil {
		return nil, fmt.Errorf("lock cache entry %s: %w", what, err)
	}
	if f == nil {
		return func() {}, nil // a read-only cache without this lock file
	}
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing drops the flock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock cache entry %s: %w", what, err)
		}
		if !waited && log != nil {
			fmt.Fprintf(log, "%s: another bootstrap is filling this cache entry; waiting for it\n", what)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// OpenLock opens the lock file dir/key for flock(2), creating both. In a
// file system that cannot be written it opens an existing lock file
// read-only instead, and returns nil and no error when there is none: the
// caller then reads without a lock.
func OpenLock(dir, key string) (*os.File, error) {
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		f, oerr := os.OpenFile(filepath.Join(dir, key), os.O_RDWR|os.O_CREATE, 0o644)
		if oerr == nil {
			return f, nil
		}
		err = oerr
	}
	if !Unwritable(err) {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// Unwritable reports whether err says a file system or directory cannot
// be written: mounted read-only, or no permission.
func Unwritable(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission)
}

// Writable returns an error when dir exists and cannot be written (a
// read-only mount, or no permission), and nil otherwise: a dir that does
// not exist yet is made when needed, and fails then if it cannot be.
// access(2) reports a read-only mount even to root.
func Writable(dir string) error {
	err := syscall.Access(dir, 2 /* W_OK */)
	if err != nil && Unwritable(err) {
		return &fs.PathError{Op: "write", Path: dir, Err: err}
	}
	return nil
}
