package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
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
func LockEntry(ctx context.Context, cacheDir, key, what string, log io.Writer) (func(), error) {
	dir := filepath.Join(cacheDir, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock cache entry %s: %w", what, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, key), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock cache entry %s: %w", what, err)
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
