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
