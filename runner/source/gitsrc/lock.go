package gitsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/porterkit/bootstrap/runner/source/fetch"
)

// lockRepo takes an flock(2) on <repoPath>.lock, exclusive to fetch into
// the repository, shared to read from it, waiting (and saying so once in
// log) while another run holds it. The kernel drops the lock when its
// holders die, even by SIGKILL. Close the file to release it.
//
// In a cache that cannot be written (mounted read-only) the existing lock
// file is opened read-only, which flock allows; when there is none, it
// returns a nil file and no error, and the caller reads unlocked: nothing
// can change a read-only repository. Whatever must be written fails on
// its own (openRepo names the cache).
func lockRepo(ctx context.Context, repoPath string, exclusive bool, log io.Writer) (*os.File, error) {
	f, err := fetch.OpenLock(filepath.Dir(repoPath), filepath.Base(repoPath)+".lock")
	if err != nil {
		return nil, fmt.Errorf("git cache: lock %s.lock: %w", repoPath, err)
	}
	if f == nil {
		return nil, nil
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("git cache: lock %s: %w", f.Name(), err)
		}
		if !waited {
			fmt.Fprintf(log, "git: waiting for another run to finish with %s\n", repoPath)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// openRepo opens the bare repository at repoPath, creating it if needed,
// after removing what a fetch killed midway left behind. The caller holds
// the exclusive lock, so nothing found there is in use.
func openRepo(repoPath string) (*git.Repository, error) {
	if _, err := os.Stat(repoPath); errors.Is(err, fs.ErrNotExist) {
		if err := fetch.Writable(filepath.Dir(repoPath)); err != nil {
			return nil, fmt.Errorf("not in the cache, and the cache cannot be written (%w): fill it with `bootstrap fetch` where it is writable, or give --cache a writable directory", err)
		}
		// Made aside and renamed into place, so a killed init leaves no
		// half repository.
		tmp := repoPath + ".init"
		os.RemoveAll(tmp)
		if _, err := git.PlainInit(tmp, true); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, repoPath); err != nil {
			return nil, err
		}
	}
	if err := repair(repoPath); err != nil {
		return nil, fmt.Errorf("repair %s: %w", repoPath, err)
	}
	return git.PlainOpen(repoPath)
}

// repair removes the traces of an interrupted fetch: git's lock files
// (which would make every later fetch fail), temporary packs, and packs
// whose index or pack file never got its final name. git renames a
// pack's .idx last, go-git its .pack last: a pack is whole only with both.
func repair(repoPath string) error {
	var stale []string
	err := filepath.WalkDir(repoPath, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case !d.IsDir() && strings.HasSuffix(name, ".lock"),
			strings.HasPrefix(name, "tmp_"),
			strings.HasPrefix(name, "._packed-refs"):
			stale = append(stale, p)
		case !d.IsDir() && strings.HasPrefix(name, "pack-"):
			base := strings.TrimSuffix(strings.TrimSuffix(name, ".idx"), ".pack")
			if base == name {
				break // .rev, .bitmap, .keep: their pack decides
			}
			dir := filepath.Dir(p)
			if !exists(filepath.Join(dir, base+".idx")) || !exists(filepath.Join(dir, base+".pack")) {
				stale = append(stale, p)
			}
		}
		if d.IsDir() && p != repoPath && len(stale) > 0 && stale[len(stale)-1] == p {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range stale {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return repairShallow(repoPath)
}

// repairShallow drops a torn last line of the shallow file (go-git writes
// it in place).
func repairShallow(repoPath string) error {
	p := filepath.Join(repoPath, "shallow")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var keep []string
	for _, l := range strings.Split(string(data), "\n") {
		if len(l) == 40 {
			keep = append(keep, l+"\n")
		}
	}
	if fixed := strings.Join(keep, ""); fixed != string(data) {
		return os.WriteFile(p, []byte(fixed), 0o644)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
