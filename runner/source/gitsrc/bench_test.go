package gitsrc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// TestCloneHelper is the bootstrap side of scripts/bench-sources.sh and
// scripts/bench-git.sh, which run it under /usr/bin/time to measure time
// and peak memory: it fetches $BOOTSTRAP_CLONE_COMMIT (default: the tip of
// main) of $BOOTSTRAP_CLONE_URL into the cache $BOOTSTRAP_CLONE_CACHE and
// checks it out into $BOOTSTRAP_CLONE_DEST. $BOOTSTRAP_CLONE_GIT is
// Options.Git ("none": go-git); with $BOOTSTRAP_CLONE_FULL=1 the fetch
// takes every branch and tag with their history, as bootstrap did before
// it fetched pins at depth 1. When $BOOTSTRAP_CLONE_PHASES names a file,
// it appends the seconds spent fetching and checking out and the peak
// memory (VmHWM, kB) of this process alone. $BOOTSTRAP_CLONE_GC=main sets
// the garbage collector as cmd/bootstrap's tuneGC does (collect only once
// the heap nears 128 MiB), so that the peak is the binary's.
func TestCloneHelper(t *testing.T) {
	url := os.Getenv("BOOTSTRAP_CLONE_URL")
	if url == "" {
		t.Skip("run by scripts/bench-sources.sh and scripts/bench-git.sh")
	}
	if os.Getenv("BOOTSTRAP_CLONE_GC") == "main" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(128 << 20)
	}
	fetched, checkedOut := clone(t, url, os.Getenv("BOOTSTRAP_CLONE_CACHE"), os.Getenv("BOOTSTRAP_CLONE_DEST"))
	if p := os.Getenv("BOOTSTRAP_CLONE_PHASES"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "%.3f %.3f %d\n", fetched.Seconds(), checkedOut.Seconds(), vmHWM(t))
	}
}

// clone fetches a commit of url into cache and checks it out into dest,
// as TestCloneHelper says, and returns the time each took.
func clone(t testing.TB, url, cache, dest string) (fetched, checkedOut time.Duration) {
	ctx := context.Background()
	start := time.Now()
	f := New(Options{CacheDir: cache, Git: os.Getenv("BOOTSTRAP_CLONE_GIT")})
	commit := os.Getenv("BOOTSTRAP_CLONE_COMMIT")
	if commit == "" {
		var err error
		if commit, err = f.Resolve(ctx, url, "main", nil); err != nil {
			t.Fatal(err)
		}
	}
	src := plan.Source{Kind: "git", Repo: url, Commit: commit}
	if os.Getenv("BOOTSTRAP_CLONE_FULL") == "1" {
		path := RepoPath(cache, url)
		if _, err := openRepo(path); err != nil {
			t.Fatal(err)
		}
		if err := f.t.fetch(ctx, path, url, fetchRequest{specs: allRefSpecs}, nil, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Fetch(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	mid := time.Now()
	if err := f.Materialize(ctx, src, dest, nil); err != nil {
		t.Fatal(err)
	}
	return mid.Sub(start), time.Since(mid)
}

// vmHWM is this process's peak resident memory in kB.
func vmHWM(t testing.TB) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}
