package gitsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/internal/treetest"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

// gitCLI runs the git CLI in dir and returns its trimmed output.
func gitCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "protocol.file.allow=always", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t testing.TB, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture is an upstream repository: c1 tagged v1 (lightweight), c2 on main
// tagged v2 (annotated), c3 on branch dev.
type fixture struct {
	url        string
	c1, c2, c3 string
	tagObject  string
}

func newFixture(t *testing.T) fixture {
	dir := filepath.Join(t.TempDir(), "up")
	os.Mkdir(dir, 0o755)
	gitCLI(t, dir, "init", "-q")
	write(t, dir, "VERSION", "1\n")
	write(t, dir, "src/make.bash", "#!/bin/sh\n")
	os.Chmod(filepath.Join(dir, "src/make.bash"), 0o755)
	os.Symlink("src/make.bash", filepath.Join(dir, "make"))
	gitCLI(t, dir, "add", "-A")
	gitCLI(t, dir, "commit", "-qm", "one")
	gitCLI(t, dir, "tag", "v1")
	c1 := gitCLI(t, dir, "rev-parse", "HEAD")
	write(t, dir, "VERSION", "2\n")
	gitCLI(t, dir, "commit", "-qam", "two")
	gitCLI(t, dir, "tag", "-a", "-m", "release 2", "v2")
	c2 := gitCLI(t, dir, "rev-parse", "HEAD")
	gitCLI(t, dir, "checkout", "-qb", "dev")
	write(t, dir, "VERSION", "3\n")
	gitCLI(t, dir, "commit", "-qam", "three")
	c3 := gitCLI(t, dir, "rev-parse", "HEAD")
	gitCLI(t, dir, "checkout", "-q", "main")
	return fixture{url: "file://" + dir, c1: c1, c2: c2, c3: c3, tagObject: gitCLI(t, dir, "rev-parse", "v2")}
}

func TestFetchMaterialize(t *testing.T) {
	fx := newFixture(t)
	cache := t.TempDir()
	cases := []struct {
		name, ref, commit, version, wantErr string
	}{
		{"annotated tag object with its tag", "v2", fx.tagObject, "2\n", ""}, // first: into the empty cache
		{"branch", "dev", fx.c3, "3\n", ""},
		{"main", "refs/heads/main", fx.c2, "2\n", ""},
		{"lightweight tag", "v1", fx.c1, "1\n", ""},
		{"annotated tag", "v2", fx.c2, "2\n", ""},
		{"annotated tag object as commit", "", fx.tagObject, "2\n", ""},
		{"commit only", "", fx.c1, "1\n", ""},
		{"wrong pair", "v1", fx.c2, "", "ref v1 is commit " + fx.c1 + ", but the recipe pins commit " + fx.c2},
		{"unknown ref", "v9", fx.c2, "", "ref v9"},
		{"unknown commit", "", strings.Repeat("ab", 20), "", "not found"},
		{"short commit", "", fx.c1[:12], "", "40-digit"},
	}
	f := New(Options{CacheDir: cache})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := plan.Source{Kind: "git", Repo: fx.url, Commit: tc.commit, Ref: tc.ref}
			err := f.Fetch(context.Background(), src, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), fx.url) {
					t.Fatalf("err = %v, want one naming %s and %q", err, fx.url, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dest := t.TempDir()
			if err := f.Materialize(context.Background(), src, dest, nil); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(dest, "VERSION")); string(b) != tc.version {
				t.Errorf("VERSION = %q, want %q", b, tc.version)
			}
			if st, err := os.Stat(filepath.Join(dest, "src/make.bash")); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("make.bash: %v %v", st, err)
			}
			if l, err := os.Readlink(filepath.Join(dest, "make")); err != nil || l != "src/make.bash" {
				t.Errorf("make -> %q %v", l, err)
			}
			if _, err := os.Stat(filepath.Join(dest, ".git")); err == nil {
				t.Error(".git in the checkout")
			}
		})
	}
}

func TestFetchOnceAndOffline(t *testing.T) {
	fx := newFixture(t)
	cache := t.TempDir()
	src := plan.Source{Kind: "git", Repo: fx.url, Commit: fx.c1, Ref: "v1"}

	err := New(Options{CacheDir: cache, Offline: true}).Fetch(context.Background(), src, nil)
	if !errors.Is(err, fetch.ErrMissingOffline) || !strings.Contains(err.Error(), fx.c1) {
		t.Fatalf("offline, empty cache: err = %v", err)
	}
	if err := New(Options{CacheDir: cache}).Fetch(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
	// Upstream gone: the cached commit is enough, online and offline.
	os.RemoveAll(strings.TrimPrefix(fx.url, "file://"))
	for _, offline := range []bool{false, true} {
		f := New(Options{CacheDir: cache, Offline: offline})
		var log bytes.Buffer
		if err := f.Fetch(context.Background(), src, &log); err != nil {
			t.Fatalf("offline=%v: %v", offline, err)
		}
		if strings.Contains(log.String(), "fetching") {
			t.Errorf("offline=%v: fetched again:\n%s", offline, log.String())
		}
		if err := f.Materialize(context.Background(), src, t.TempDir(), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSubmodules(t *testing.T) {
	base := t.TempDir()
	leaf := filepath.Join(base, "leaf")
	os.Mkdir(leaf, 0o755)
	gitCLI(t, leaf, "init", "-q")
	write(t, leaf, "leaf.txt", "leaf\n")
	gitCLI(t, leaf, "add", "-A")
	gitCLI(t, leaf, "commit", "-qm", "leaf")

	sub := filepath.Join(base, "sub")
	os.Mkdir(sub, 0o755)
	gitCLI(t, sub, "init", "-q")
	write(t, sub, "lib.c", "int x;\n")
	gitCLI(t, sub, "add", "-A")
	gitCLI(t, sub, "submodule", "add", "-q", "../leaf", "third_party/leaf")
	gitCLI(t, sub, "commit", "-qm", "sub")

	top := filepath.Join(base, "top")
	os.Mkdir(top, 0o755)
	gitCLI(t, top, "init", "-q")
	write(t, top, "main.c", "int main;\n")
	gitCLI(t, top, "add", "-A")
	gitCLI(t, top, "submodule", "add", "-q", "file://"+sub, "vendor/sub")
	gitCLI(t, top, "commit", "-qm", "top")
	commit := gitCLI(t, top, "rev-parse", "HEAD")

	cache := t.TempDir()
	src := plan.Source{Kind: "git", Repo: "file://" + top, Commit: commit, Submodules: true}
	if err := New(Options{CacheDir: cache}).Fetch(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
	// Materialize from the cache alone.
	dest := t.TempDir()
	if err := New(Options{CacheDir: cache, Offline: true}).Materialize(context.Background(), src, dest, nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"main.c": "int main;\n", "vendor/sub/lib.c": "int x;\n", "vendor/sub/third_party/leaf/leaf.txt": "leaf\n"} {
		if b, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v", name, b, err)
		}
	}
	for _, u := range []string{"file://" + sub, "file://" + leaf} {
		if _, err := os.Stat(RepoPath(cache, u)); err != nil {
			t.Errorf("submodule %s not cached: %v", u, err)
		}
	}
}

// TestResolve asks the server (both ways of talking to it; annotated tags
// peeled), then the cache offline: empty, and after a fetch of the ref.
func TestResolve(t *testing.T) {
	fx := newFixture(t)
	for _, b := range backends {
		f := New(Options{CacheDir: t.TempDir(), Git: b.git})
		for ref, want := range map[string]string{"v1": fx.c1, "v2": fx.c2, "dev": fx.c3, "main": fx.c2, "refs/heads/dev": fx.c3} {
			got, err := f.Resolve(context.Background(), fx.url, ref, nil)
			if err != nil || got != want {
				t.Errorf("%s: Resolve(%s) = %s, %v; want %s", b.name, ref, got, err, want)
			}
		}
	}
	cache := t.TempDir()
	offline := New(Options{CacheDir: cache, Offline: true})
	if _, err := offline.Resolve(context.Background(), fx.url, "v2", nil); !errors.Is(err, fetch.ErrMissingOffline) {
		t.Errorf("offline resolve with empty cache: %v", err)
	}
	src := plan.Source{Kind: "git", Repo: fx.url, Commit: fx.c2, Ref: "v2"}
	if err := New(Options{CacheDir: cache}).Fetch(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := offline.Resolve(context.Background(), fx.url, "v2", nil); err != nil || got != fx.c2 {
		t.Errorf("offline resolve after the fetch = %s, %v; want %s", got, err, fx.c2)
	}
}

// TestCheckoutAsGit checks a commit out with bootstrap and with `git clone`
// and compares the trees: contents, executable bits, symlinks (one
// absolute, one climbing out, which git keeps as they are), empty and large
// files, deep directories.
func TestCheckoutAsGit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "up")
	os.Mkdir(dir, 0o755)
	gitCLI(t, dir, "init", "-q")
	write(t, dir, "empty", "")
	write(t, dir, "a/b/c/d/deep.go", "package d\n")
	write(t, dir, "big.bin", strings.Repeat("0123456789abcdef", 1<<16)) // 1 MiB
	write(t, dir, "tool.sh", "#!/bin/sh\n")
	os.Chmod(filepath.Join(dir, "tool.sh"), 0o755)
	os.Symlink("/usr/share/misc/config.guess", filepath.Join(dir, "config.guess"))
	os.Symlink("../../outside", filepath.Join(dir, "a/b/up"))
	os.Symlink("b/c", filepath.Join(dir, "a/in"))
	for i := range 300 {
		write(t, dir, fmt.Sprintf("many/f%03d", i), strings.Repeat("x", i))
	}
	gitCLI(t, dir, "add", "-A")
	gitCLI(t, dir, "commit", "-qm", "tree")
	commit := gitCLI(t, dir, "rev-parse", "HEAD")

	theirs := filepath.Join(t.TempDir(), "clone")
	gitCLI(t, dir, "clone", "-q", dir, theirs)
	os.RemoveAll(filepath.Join(theirs, ".git"))
	// Both checkouts: from git archive and from go-git's objects.
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := New(Options{CacheDir: t.TempDir(), Git: b.git})
			src := plan.Source{Kind: "git", Repo: "file://" + dir, Commit: commit}
			if err := f.Fetch(context.Background(), src, nil); err != nil {
				t.Fatal(err)
			}
			ours := t.TempDir()
			if err := f.Materialize(context.Background(), src, ours, nil); err != nil {
				t.Fatal(err)
			}
			for _, d := range treetest.Diff(treetest.Describe(t, theirs, treetest.Options{}), treetest.Describe(t, ours, treetest.Options{})) {
				t.Error(d)
			}
		})
	}
}

// TestCheckoutCanceled: a canceled checkout returns the context's error
// promptly, with its goroutines stopped.
func TestCheckoutCanceled(t *testing.T) {
	fx := newFixture(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := New(Options{CacheDir: t.TempDir(), Git: b.git})
			src := plan.Source{Kind: "git", Repo: fx.url, Commit: fx.c2}
			if err := f.Fetch(context.Background(), src, nil); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := f.Materialize(ctx, src, t.TempDir(), nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
	}
}
