package gitsrc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source/gitsrc/gittest"
)

// history is a served repository of long history, made with git
// fast-import: commit i (1-based) sets VERSION to i and rewrites one of
// files small files; every commit is on main, commit 10 is tagged v10
// (annotated).
type history struct {
	root    string   // served directory
	name    string   // repository name under root
	commits []string // commits[i-1] is commit i
}

// newHistory makes a repository of n commits over files files in root.
func newHistory(t testing.TB, root, name string, n, files int) history {
	t.Helper()
	dir := filepath.Join(root, name)
	gitCLI(t, root, "init", "-q", "--bare", dir)
	var in bytes.Buffer
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, "commit refs/heads/main\nmark :%d\ncommitter t <t@t> %d +0000\ndata 9\ncommit %02d\n", i, 1000000000+i, i%100)
		if i > 1 {
			fmt.Fprintf(&in, "from :%d\n", i-1)
		}
		blob := func(path, body string) {
			fmt.Fprintf(&in, "M 644 inline %s\ndata %d\n%s\n", path, len(body), body)
		}
		blob("VERSION", fmt.Sprintf("%d\n", i))
		if i == 1 {
			for f := range files {
				blob(fmt.Sprintf("src/d%d/f%d.c", f%10, f), strings.Repeat(fmt.Sprintf("int f%d;\n", f), 20))
			}
		} else {
			f := i % files
			blob(fmt.Sprintf("src/d%d/f%d.c", f%10, f), strings.Repeat(fmt.Sprintf("int f%d_%d;\n", f, i), 20))
		}
		if i == 10 {
			fmt.Fprintf(&in, "tag v10\nfrom :10\ntagger t <t@t> 1000000010 +0000\ndata 4\nv10\n")
		}
	}
	cmd := exec.Command("git", "--git-dir="+dir, "fast-import", "--quiet")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	commits := strings.Fields(gitCLI(t, dir, "rev-list", "--reverse", "main"))
	if len(commits) != n {
		t.Fatalf("%d commits, want %d", len(commits), n)
	}
	return history{root: root, name: name, commits: commits}
}

// cachedCommits counts the commits in url's cached repository.
func cachedCommits(t testing.TB, cache, url string) int {
	t.Helper()
	repo, err := git.PlainOpen(RepoPath(cache, url))
	if err != nil {
		t.Fatal(err)
	}
	iter, err := repo.CommitObjects()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[plumbing.Hash]bool{} // a commit may be in more than one pack
	iter.ForEach(func(c *object.Commit) error { seen[c.Hash] = true; return nil })
	return len(seen)
}

// cachedObjects counts the objects of url's cached repository, loose and
// in packs.
func cachedObjects(t testing.TB, cache, url string) int {
	t.Helper()
	idxs, _ := filepath.Glob(filepath.Join(RepoPath(cache, url), "objects/pack/*.idx"))
	loose, _ := filepath.Glob(filepath.Join(RepoPath(cache, url), "objects/??/*"))
	n := len(loose)
	for _, p := range idxs {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		idx := idxfile.NewMemoryIndex()
		err = idxfile.NewDecoder(f).Decode(idx)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c, _ := idx.Count()
		n += int(c)
	}
	return n
}

// backends are the two ways of fetching: the git command and go-git.
var backends = []struct {
	name string
	git  string
	v2   bool // speaks protocol v2
}{{"git", "git", true}, {"go-git", "none", false}}

// TestPinnedFetch pins a commit at the tip and deep in the history, with
// and without a ref, from servers that allow and refuse wants of a bare
// commit, and checks both the tree and how much history came.
func TestPinnedFetch(t *testing.T) {
	const n = 200
	h := newHistory(t, t.TempDir(), "long.git", n, 50)
	servers := []struct {
		name string
		opts gittest.Options
	}{
		{"v2", gittest.Options{}},
		{"v0 allowing SHA wants", gittest.Options{V0Only: true, SHAWants: true}},
		{"v0 refusing SHA wants", gittest.Options{V0Only: true}},
	}
	pins := []struct {
		name string
		i    int // commit number
		ref  string
	}{
		{"tip", n, "main"},
		{"tip without ref", n, ""},
		{"deep tag", 10, "v10"},
		{"deep on branch", n - 50, "main"},
		{"deep without ref", n - 50, ""},
	}
	for _, sv := range servers {
		sv.opts.Root = h.root
		srv, err := gittest.Start(sv.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		url := srv.URL + "/" + h.name
		for _, b := range backends {
			shaOK := sv.opts.SHAWants || b.v2 && !sv.opts.V0Only
			for _, pin := range pins {
				t.Run(sv.name+"/"+b.name+"/"+pin.name, func(t *testing.T) {
					cache := t.TempDir()
					f := New(Options{CacheDir: cache, Git: b.git})
					src := plan.Source{Kind: "git", Repo: url, Commit: h.commits[pin.i-1], Ref: pin.ref}
					var log bytes.Buffer
					if err := f.Fetch(context.Background(), src, &log); err != nil {
						t.Fatalf("%v\n%s", err, log.String())
					}
					dest := t.TempDir()
					if err := f.Materialize(context.Background(), src, dest, nil); err != nil {
						t.Fatal(err)
					}
					if b, _ := os.ReadFile(filepath.Join(dest, "VERSION")); string(b) != fmt.Sprintf("%d\n", pin.i) {
						t.Errorf("VERSION = %q, want %d", b, pin.i)
					}
					got := cachedCommits(t, cache, url)
					// What each pin should cost: one commit when a ref's tip
					// is the pin or the server takes its hash; the ref
					// deepened (1, 8, 64) to reach 50 commits back;
					// else the whole history.
					want, says := 1, "depth 1"
					switch {
					case pin.i == n || pin.ref == "v10" || shaOK:
					case pin.ref != "":
						want, says = 64, "deepening until the commit appears"
					default:
						want, says = n, "fetching the full history of "+url+": "+errSHARefused.Error()
					}
					if got != want {
						t.Errorf("%d commits in the cache, want %d\n%s", got, want, log.String())
					}
					if !strings.Contains(log.String(), says) {
						t.Errorf("step log does not say %q:\n%s", says, log.String())
					}
				})
			}
		}
	}
}

// TestSecondPinFetchesTheDifference pins two commits of one URL in turn:
// the second fetch brings only the objects the first did not (the first
// pin's commit is a "have"), counted in the cache's packs and in the
// bytes the server sent.
func TestSecondPinFetchesTheDifference(t *testing.T) {
	const n = 100
	h := newHistory(t, t.TempDir(), "two.git", n, 200)
	srv, err := gittest.Start(gittest.Options{Root: h.root, SHAWants: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := srv.URL + "/" + h.name
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cache := t.TempDir()
			f := New(Options{CacheDir: cache, Git: b.git})
			pin := func(i int) (objects int, bytes int64) {
				before, sent := cachedObjects(t, cache, url), srv.BytesSent()
				src := plan.Source{Kind: "git", Repo: url, Commit: h.commits[i-1]}
				if err := f.Fetch(context.Background(), src, nil); err != nil {
					t.Fatal(err)
				}
				if err := f.Materialize(context.Background(), src, t.TempDir(), nil); err != nil {
					t.Fatal(err)
				}
				return cachedObjects(t, cache, url) - before, srv.BytesSent() - sent
			}
			firstObjects, firstBytes := pin(n - 5)
			// Commit n-5's tree: 1 commit, 12 trees, 201 blobs.
			if firstObjects != 214 {
				t.Errorf("first pin brought %d objects, want 214", firstObjects)
			}
			// Five commits later: VERSION and five files changed, so six
			// blobs, the root, src and five directories, one commit.
			// go-git sends the same request as git, yet the server
			// answers it with the whole tree (go-git asks for no thin
			// pack): still one commit's objects, no history.
			want := 14
			if b.git == "none" {
				want = firstObjects
			}
			objects, bytes := pin(n)
			if objects != want {
				t.Errorf("second pin brought %d objects, want %d", objects, want)
			}
			if b.git != "none" && bytes*4 > firstBytes {
				t.Errorf("second pin: the server sent %d bytes, the first %d", bytes, firstBytes)
			}
			t.Logf("first pin %d objects, %d bytes; second %d objects, %d bytes", firstObjects, firstBytes, objects, bytes)
		})
	}
}

// TestSubmoduleOverHTTPThenOffline fetches a superproject whose submodule
// (a relative URL) pins a commit that is no longer its branch's tip, then
// checks it all out with the server gone and the fetcher offline.
func TestSubmoduleOverHTTPThenOffline(t *testing.T) {
	root, work := t.TempDir(), t.TempDir()
	leaf := newHistory(t, root, "leaf.git", 30, 5)
	top := filepath.Join(work, "top")
	os.Mkdir(top, 0o755)
	gitCLI(t, top, "init", "-q")
	write(t, top, "main.c", "int main;\n")
	gitCLI(t, top, "add", "-A")
	gitCLI(t, top, "submodule", "add", "-q", filepath.Join(root, "leaf.git"), "third_party/leaf")
	gitCLI(t, top+"/third_party/leaf", "checkout", "-q", leaf.commits[19])
	gitCLI(t, top, "config", "-f", ".gitmodules", "submodule.third_party/leaf.url", "../leaf.git")
	gitCLI(t, top, "add", "-A")
	gitCLI(t, top, "commit", "-qm", "top")
	gitCLI(t, work, "clone", "-q", "--bare", top, filepath.Join(root, "top.git"))
	commit := gitCLI(t, top, "rev-parse", "HEAD")

	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv, err := gittest.Start(gittest.Options{Root: root, SHAWants: true})
			if err != nil {
				t.Fatal(err)
			}
			cache := t.TempDir()
			src := plan.Source{Kind: "git", Repo: srv.URL + "/top.git", Commit: commit, Submodules: true}
			var log bytes.Buffer
			if err := New(Options{CacheDir: cache, Git: b.git}).Fetch(context.Background(), src, &log); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			srv.Close()
			if n := cachedCommits(t, cache, srv.URL+"/leaf.git"); n != 1 {
				t.Errorf("submodule: %d commits cached, want 1", n)
			}
			offline := New(Options{CacheDir: cache, Git: b.git, Offline: true})
			log.Reset()
			if err := offline.Fetch(context.Background(), src, &log); err != nil || strings.Contains(log.String(), "fetching") {
				t.Fatalf("offline fetch: %v\n%s", err, log.String())
			}
			dest := t.TempDir()
			if err := offline.Materialize(context.Background(), src, dest, nil); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]string{"main.c": "int main;\n", "third_party/leaf/VERSION": "20\n"} {
				if b, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(b) != want {
					t.Errorf("%s = %q, %v; want %q", name, b, err, want)
				}
			}
		})
	}
}

// TestMirrorByPath: with the recipe's server out of reach, the repository
// comes from a mirror directory that holds it under the URL's path, and
// is cached under the recipe's URL.
func TestMirrorByPath(t *testing.T) {
	mirror := t.TempDir()
	h := newHistory(t, filepath.Join(mirror), "repo.git", 20, 5)
	gone, err := gittest.Start(gittest.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	url := gone.URL + "/repo.git"
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cache := t.TempDir()
			f := New(Options{CacheDir: cache, Git: b.git, Mirrors: []string{mirror}})
			src := plan.Source{Kind: "git", Repo: url, Commit: h.commits[9]}
			var log bytes.Buffer
			if err := f.Fetch(context.Background(), src, &log); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if !strings.Contains(log.String(), "from file://"+filepath.Join(mirror, "repo.git")) {
				t.Errorf("not fetched from the mirror:\n%s", log.String())
			}
			if n := cachedCommits(t, cache, url); n != 1 {
				t.Errorf("%d commits cached under the recipe's URL, want 1", n)
			}
		})
	}
}

// TestConcurrentPins: runs sharing a cache fetch different pins of one URL
// at once; the lock keeps them in turn, and the repository stays whole
// (git fsck).
func TestConcurrentPins(t *testing.T) {
	h := newHistory(t, t.TempDir(), "busy.git", 40, 20)
	srv, err := gittest.Start(gittest.Options{Root: h.root, SHAWants: true, Slow: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := srv.URL + "/busy.git"
	cache := t.TempDir()
	errs := make(chan error)
	for i, b := range []string{"git", "none", "git", "none"} {
		go func() {
			src := plan.Source{Kind: "git", Repo: url, Commit: h.commits[10*i+5]}
			errs <- New(Options{CacheDir: cache, Git: b}).Fetch(context.Background(), src, nil)
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	gitCLI(t, cache, "--git-dir="+RepoPath(cache, url), "fsck", "--no-dangling")
	if n := cachedCommits(t, cache, url); n != 4 {
		t.Errorf("%d commits cached, want 4", n)
	}
}
