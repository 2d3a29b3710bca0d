package gitsrc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// TestSeed seeds the cache of an upstream URL that does not exist from a
// local clone, then fetches and checks the recipe's pins out offline.
func TestSeed(t *testing.T) {
	fx := newFixture(t)
	clone := filepath.Join(t.TempDir(), "clone")
	gitCLI(t, filepath.Dir(clone), "clone", "-q", "--mirror", fx.url, clone)
	const url = "https://git.invalid/upstream/repo.git" // never reachable
	for _, tc := range []struct {
		name    string
		wants   []string
		pins    []plan.Source // fetched offline afterwards
		missing []plan.Source // still missing offline afterwards
		refs    string        // the refs reported for the first result
		wantErr string
	}{
		{
			name:    "a tag",
			wants:   []string{"v1"},
			pins:    []plan.Source{{Commit: fx.c1, Ref: "v1"}},
			missing: []plan.Source{{Commit: fx.c3}},
			refs:    "refs/tags/v1",
		},
		{
			name:  "a commit and an annotated tag",
			wants: []string{fx.c3, "v2"},
			pins:  []plan.Source{{Commit: fx.c3}, {Commit: fx.c2, Ref: "v2"}, {Commit: fx.tagObject, Ref: "v2"}},
			refs:  "refs/heads/dev",
		},
		{
			name: "everything",
			pins: []plan.Source{{Commit: fx.c1, Ref: "v1"}, {Commit: fx.c2, Ref: "v2"}, {Commit: fx.c3, Ref: "dev"}},
			refs: "refs/heads/dev",
		},
		{name: "a commit the clone lacks", wants: []string{strings.Repeat("ab", 20)}, wantErr: "commit " + strings.Repeat("ab", 20) + " is not in it"},
		{name: "a ref the clone lacks", wants: []string{"v9"}, wantErr: "v9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			f := New(Options{CacheDir: cache})
			res, err := f.Seed(context.Background(), clone, url, tc.wants, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), clone) {
					t.Fatalf("err = %v, want one naming %s and %q", err, clone, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res) == 0 || strings.Join(res[0].Refs, " ") != tc.refs {
				t.Errorf("results %+v, first with refs %q", res, tc.refs)
			}
			off := New(Options{CacheDir: cache, Offline: true})
			for _, p := range tc.pins {
				src := plan.Source{Kind: "git", Repo: url, Commit: p.Commit, Ref: p.Ref}
				var log bytes.Buffer
				if err := off.Fetch(context.Background(), src, &log); err != nil {
					t.Fatalf("offline fetch of %s after seeding: %v", p.Commit, err)
				}
				if p.Ref != "" && strings.Contains(log.String(), "not checked offline") {
					t.Errorf("ref %s did not come with the seed:\n%s", p.Ref, log.String())
				}
				dest := t.TempDir()
				if err := off.Materialize(context.Background(), src, dest, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(dest, "VERSION")); err != nil {
					t.Error(err)
				}
			}
			for _, p := range tc.missing {
				src := plan.Source{Kind: "git", Repo: url, Commit: p.Commit}
				if err := off.Fetch(context.Background(), src, nil); err == nil {
					t.Errorf("%s is in the cache, but was not asked for", p.Commit)
				}
			}
		})
	}
}
