package vcs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

func need(t *testing.T, tools ...string) {
	for _, name := range tools {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s not installed (Debian packages subversion, mercurial)", name)
		}
	}
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HGPLAIN=1", "HGUSER=t <t@t>", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, p, body string) {
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSVN(t *testing.T) {
	need(t, "svn", "svnadmin")
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	run(t, base, "svnadmin", "create", repo)
	url := "file://" + repo
	wc := filepath.Join(base, "wc")
	run(t, base, "svn", "checkout", "-q", url, wc)
	write(t, filepath.Join(wc, "trunk/VERSION"), "1\n")
	run(t, wc, "svn", "add", "-q", "trunk")
	run(t, wc, "svn", "commit", "-q", "-m", "r1")
	write(t, filepath.Join(wc, "trunk/VERSION"), "2\n")
	run(t, wc, "svn", "commit", "-q", "-m", "r2")

	cache := t.TempDir()
	trunk := url + "/trunk"
	offline := NewSVN(Options{CacheDir: cache, Offline: true})
	if err := offline.Fetch(context.Background(), plan.Source{Repo: trunk, Commit: "1"}, nil); !errors.Is(err, fetch.ErrMissingOffline) {
		t.Fatalf("offline with empty cache: %v", err)
	}
	s := NewSVN(Options{CacheDir: cache})
	for _, tc := range []struct{ rev, want string }{{"1", "1\n"}, {"2", "2\n"}, {"1", "1\n"}} {
		src := plan.Source{Kind: "svn", Repo: trunk, Commit: tc.rev}
		if err := s.Fetch(context.Background(), src, nil); err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		if err := offline.Materialize(context.Background(), src, dest, nil); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dest, "VERSION")); string(b) != tc.want {
			t.Errorf("r%s: VERSION = %q, want %q", tc.rev, b, tc.want)
		}
		if _, err := os.Stat(filepath.Join(dest, ".svn")); err == nil {
			t.Error(".svn in the export")
		}
	}
	if err := s.Fetch(context.Background(), plan.Source{Repo: trunk, Commit: "HEAD"}, nil); err == nil || !strings.Contains(err.Error(), trunk) {
		t.Errorf("unpinned revision: %v", err)
	}
}

func TestHG(t *testing.T) {
	need(t, "hg")
	up := filepath.Join(t.TempDir(), "up")
	os.Mkdir(up, 0o755)
	run(t, up, "hg", "init")
	write(t, filepath.Join(up, "VERSION"), "1\n")
	run(t, up, "hg", "add", "-q")
	run(t, up, "hg", "commit", "-q", "-m", "one")
	c1 := run(t, up, "hg", "log", "-r", ".", "--template", "{node}")
	write(t, filepath.Join(up, "VERSION"), "2\n")
	run(t, up, "hg", "commit", "-q", "-m", "two")
	c2 := run(t, up, "hg", "log", "-r", ".", "--template", "{node}")

	cache := t.TempDir()
	url := "file://" + up
	h := NewHG(Options{CacheDir: cache})
	offline := NewHG(Options{CacheDir: cache, Offline: true})
	if err := offline.Fetch(context.Background(), plan.Source{Repo: url, Commit: c1}, nil); !errors.Is(err, fetch.ErrMissingOffline) {
		t.Fatalf("offline with empty cache: %v", err)
	}
	for _, tc := range []struct{ cs, want string }{{c1, "1\n"}, {c2, "2\n"}} {
		src := plan.Source{Kind: "hg", Repo: url, Commit: tc.cs}
		if err := h.Fetch(context.Background(), src, nil); err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		if err := offline.Materialize(context.Background(), src, dest, nil); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dest, "VERSION")); string(b) != tc.want {
			t.Errorf("%s: VERSION = %q, want %q", tc.cs, b, tc.want)
		}
		for _, meta := range []string{".hg", ".hg_archival.txt"} {
			if _, err := os.Stat(filepath.Join(dest, meta)); err == nil {
				t.Errorf("%s in the archive", meta)
			}
		}
	}
	if err := h.Fetch(context.Background(), plan.Source{Repo: url, Commit: strings.Repeat("ab", 20)}, nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown changeset: %v", err)
	}
}

func TestMissingTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := NewSVN(Options{CacheDir: t.TempDir()}).Fetch(context.Background(), plan.Source{Repo: "file:///nowhere", Commit: "1"}, nil)
	if err == nil || !strings.Contains(err.Error(), "install Debian package subversion") {
		t.Errorf("svn missing: %v", err)
	}
	err = NewHG(Options{CacheDir: t.TempDir()}).Fetch(context.Background(), plan.Source{Repo: "file:///nowhere", Commit: strings.Repeat("a", 40)}, nil)
	if err == nil || !strings.Contains(err.Error(), "install Debian package mercurial") {
		t.Errorf("hg missing: %v", err)
	}
}

// TestTreeChecked: for svn and hg, TreeHash gives the hash Materialize
// then accepts; after a file of the cached copy is edited, Materialize
// refuses it and writes nothing into the tree: for svn on the tree hash
// (naming it and the cached copy), for hg on its own integrity check.
func TestTreeChecked(t *testing.T) {
	need(t, "svn", "svnadmin", "hg")
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	run(t, base, "svnadmin", "create", repo)
	wc := filepath.Join(base, "wc")
	run(t, base, "svn", "checkout", "-q", "file://"+repo, wc)
	write(t, filepath.Join(wc, "trunk/VERSION"), "1\n")
	run(t, wc, "svn", "add", "-q", "trunk")
	run(t, wc, "svn", "commit", "-q", "-m", "r1")
	up := filepath.Join(base, "up")
	os.Mkdir(up, 0o755)
	run(t, up, "hg", "init")
	write(t, filepath.Join(up, "VERSION"), "1\n")
	run(t, up, "hg", "add", "-q")
	run(t, up, "hg", "commit", "-q", "-m", "one")
	cs := run(t, up, "hg", "log", "-r", ".", "--template", "{node}")

	cache := t.TempDir()
	cases := []struct {
		name   string
		f      source.Fetcher
		src    plan.Source
		tamper func(t *testing.T)
		caught string
	}{
		{"svn", NewSVN(Options{CacheDir: cache}), plan.Source{Kind: "svn", Repo: "file://" + repo + "/trunk", Commit: "1", Dest: "."},
			func(t *testing.T) {
				p, _ := filepath.Glob(filepath.Join(cache, "svn", "*", "VERSION"))
				write(t, p[0], "evil\n")
			}, "not the pinned tree "},
		{"hg", NewHG(Options{CacheDir: cache}), plan.Source{Kind: "hg", Repo: "file://" + up, Commit: cs, Dest: "sub"},
			func(t *testing.T) {
				// Edit VERSION's revlog in the store (small revisions are
				// stored uncompressed). hg checks a revision's hash as it
				// reads it, so hg catches this before the tree hash does.
				p, _ := filepath.Glob(filepath.Join(cache, "hg", "*", ".hg", "store", "data", "_v_e_r_s_i_o_n.i"))
				if len(p) != 1 {
					t.Skip("hg store layout not as expected")
				}
				data, _ := os.ReadFile(p[0])
				i := strings.LastIndex(string(data), "1\n")
				if i < 0 {
					t.Skip("VERSION is stored compressed")
				}
				data[i] = '9'
				os.WriteFile(p[0], data, 0o644)
			}, "integrity check failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			if err := c.f.Fetch(ctx, c.src, nil); err != nil {
				t.Fatal(err)
			}
			sum, err := TreeHash(ctx, c.f, c.src)
			if err != nil || !strings.HasPrefix(sum, "sha256:") {
				t.Fatalf("TreeHash = %q, %v", sum, err)
			}
			c.src.Tree = sum
			tree := filepath.Join(t.TempDir(), "tree")
			if err := c.f.Materialize(ctx, c.src, tree, nil); err != nil {
				t.Fatalf("Materialize with the right tree: %v", err)
			}
			c.tamper(t)
			again := filepath.Join(t.TempDir(), "tree")
			err = c.f.Materialize(ctx, c.src, again, nil)
			if err == nil || !strings.Contains(err.Error(), c.caught) || !strings.Contains(err.Error(), filepath.Join(cache, c.name)) {
				t.Fatalf("Materialize of a tampered cache: %v", err)
			}
			if _, err := os.Stat(filepath.Join(again, c.src.Dest, "VERSION")); err == nil {
				t.Error("the tampered export reached the tree")
			}
		})
	}
}
