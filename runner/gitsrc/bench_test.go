package gitsrc

import (
	"context"
	"os"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// TestCloneHelper is the go-git side of scripts/bench-sources.sh, which
// runs it under /usr/bin/time to measure time and peak memory: it clones
// $BOOTSTRAP_CLONE_URL's main branch into the cache $BOOTSTRAP_CLONE_CACHE
// and checks it out into $BOOTSTRAP_CLONE_DEST, as `git clone` would.
func TestCloneHelper(t *testing.T) {
	url := os.Getenv("BOOTSTRAP_CLONE_URL")
	if url == "" {
		t.Skip("run by scripts/bench-sources.sh")
	}
	clone(t, url, os.Getenv("BOOTSTRAP_CLONE_CACHE"), os.Getenv("BOOTSTRAP_CLONE_DEST"))
}

func clone(t testing.TB, url, cache, dest string) {
	ctx := context.Background()
	commit, err := Resolve(ctx, cache, url, "main", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := New(Options{CacheDir: cache})
	src := plan.Source{Kind: "git", Repo: url, Commit: commit, Ref: "main"}
	if err := f.Fetch(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Materialize(ctx, src, dest, nil); err != nil {
		t.Fatal(err)
	}
}
