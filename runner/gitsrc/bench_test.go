package gitsrc

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// TestCloneHelper is the go-git side of scripts/bench-sources.sh, which
// runs it under /usr/bin/time to measure time and peak memory: it clones
// $BOOTSTRAP_CLONE_URL's main branch into the cache $BOOTSTRAP_CLONE_CACHE
// and checks it out into $BOOTSTRAP_CLONE_DEST, as `git clone` would. When
// $BOOTSTRAP_CLONE_PHASES names a file, it appends the seconds spent
// fetching (with go-git's indexing of the pack) and checking out.
func TestCloneHelper(t *testing.T) {
	url := os.Getenv("BOOTSTRAP_CLONE_URL")
	if url == "" {
		t.Skip("run by scripts/bench-sources.sh")
	}
	fetched, checkedOut := clone(t, url, os.Getenv("BOOTSTRAP_CLONE_CACHE"), os.Getenv("BOOTSTRAP_CLONE_DEST"))
	if p := os.Getenv("BOOTSTRAP_CLONE_PHASES"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "%.3f %.3f\n", fetched.Seconds(), checkedOut.Seconds())
	}
}

// clone fetches url's main branch into cache and checks it out into dest,
// and returns the time each took.
func clone(t testing.TB, url, cache, dest string) (fetched, checkedOut time.Duration) {
	ctx := context.Background()
	start := time.Now()
	commit, err := Resolve(ctx, cache, url, "main", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := New(Options{CacheDir: cache})
	src := plan.Source{Kind: "git", Repo: url, Commit: commit, Ref: "main"}
	if err := f.Fetch(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	mid := time.Now()
	if err := f.Materialize(ctx, src, dest, nil); err != nil {
		t.Fatal(err)
	}
	return mid.Sub(start), time.Since(mid)
}
