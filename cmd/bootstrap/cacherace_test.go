package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo makes an upstream repository with one commit holding data.bin
// (n incompressible bytes) and hello.txt, and returns its path and commit.
func gitRepo(t *testing.T, n int) (string, string) {
	t.Helper()
	up := filepath.Join(t.TempDir(), "upstream")
	if err := os.MkdirAll(up, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, up, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(up, "hello.txt"), []byte("hello from git\n"), 0o644)
	os.WriteFile(filepath.Join(up, "data.bin"), sourceTar(t, true, n), 0o644) // gzip'd: incompressible
	git(t, up, "add", "-A")
	git(t, up, "commit", "-qm", "one")
	return up, strings.TrimSpace(git(t, up, "rev-parse", "HEAD"))
}

// bothRecipe writes faults.yaml with a url component and a git component.
func bothRecipe(t *testing.T, dir, url, sum, repo, commit string) {
	t.Helper()
	writeFaultsRecipe(t, dir, fmt.Sprintf(urlComponent, url, sum)+fmt.Sprintf(`  - name: repo
    source:
      git: %s
      commit: %s
    steps:
      - name: build
        run: cp ${{ src }}/hello.txt ${{ build }}/out.txt
`, repo, commit))
}

// TestCorruptGitCache damages the bare repository the cache keeps: the
// checkout finds it, the repository is fetched again in the same run, and
// offline the error names the repository's path.
func TestCorruptGitCache(t *testing.T) {
	up, commit := gitRepo(t, 256<<10)
	data := sourceTar(t, true, 1<<10)
	srv := newFlaky(t, data)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	bothRecipe(t, dir, srv.URL+"/pkg.tar.gz", sha(data), up, commit)
	run := func(args ...string) result {
		return bs(t, dir, append(append([]string{"run", "--cache", cache}, args...), "faults.yaml")...)
	}
	if r := run(); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	// The biggest object file holds the big blob: a pack (go-git), or a
	// loose object (git keeps the few objects of a shallow fetch loose).
	objects, _ := filepath.Glob(filepath.Join(cache, "git", "*", "objects", "*", "*"))
	var biggest string
	var size int64
	for _, o := range objects {
		if fi, err := os.Stat(o); err == nil && fi.Mode().IsRegular() && fi.Size() > size && !strings.HasSuffix(o, ".idx") {
			biggest, size = o, fi.Size()
		}
	}
	if size < 64<<10 {
		t.Fatalf("no object file holding the 256 KiB blob in the git cache: %v", objects)
	}
	damage := func() {
		d, err := os.ReadFile(biggest)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(d) / 3; i < len(d)*2/3; i += 997 { // bit rot across the big blob
			d[i] ^= 0x40
		}
		os.Chmod(biggest, 0o644)
		if err := os.WriteFile(biggest, d, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	damage()
	r := run("--offline", "--force", "repo:patch")
	repoDir := filepath.Dir(filepath.Dir(filepath.Dir(biggest)))
	if r.code != 1 || !strings.Contains(r.stderr, "step repo:patch failed") || !strings.Contains(r.stderr, repoDir+" is damaged") ||
		!strings.Contains(r.stderr, "run online to fetch it again") {
		t.Errorf("offline, damaged repository: exit %d\n%s", r.code, r.stderr)
	}

	r = run("--force", "repo:patch")
	if r.code != 0 {
		t.Fatalf("online, damaged repository: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if log := readLog(dir, "repo/patch"); !strings.Contains(log, "is damaged") || !strings.Contains(log, "removing it and fetching again") {
		t.Errorf("patch log does not say the repository was fetched again:\n%s", log)
	}
	if out, err := exec.Command("git", "--git-dir", repoDir, "fsck", "--strict").CombinedOutput(); err != nil {
		t.Errorf("the re-fetched repository is not sound: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(hostWork(dir, "faults"), "build/repo/out.txt")); string(got) != "hello from git\n" {
		t.Errorf("repo:build made %q", got)
	}
}

// TestTwoRunsOneCache starts two runs with their own work dirs on one
// empty cache, for the same tarball and the same git repository. The
// server holds the first download until the other run is seen waiting
// for the cache entry, so the race is certain: the file is downloaded
// once, both runs finish, and the cached repository is sound.
func TestTwoRunsOneCache(t *testing.T) {
	up, commit := gitRepo(t, 64<<10)
	data := sourceTar(t, true, 512<<10)
	srv := newFlaky(t, data, "slow")
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	var works [2]string
	for i := range works {
		works[i] = filepath.Join(dir, fmt.Sprintf("work%d", i))
	}
	waiting := func() bool {
		for _, w := range works {
			if log, _ := os.ReadFile(filepath.Join(w, "logs/pkg/fetch.log")); bytes.Contains(log, []byte("another bootstrap is filling this cache entry")) {
				return true
			}
		}
		return false
	}
	srv.gate = func() {
		for deadline := time.Now().Add(20 * time.Second); !waiting() && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	bothRecipe(t, dir, srv.URL+"/pkg.tar.gz", sha(data), up, commit)
	var cmds [2]*exec.Cmd
	var outs [2]bytes.Buffer
	for i := range cmds {
		cmds[i] = exec.Command(binary, "run", "--cache", cache, "--workdir", works[i], "-j", "2", "faults.yaml")
		cmds[i].Dir = dir
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("run %d: %v\n%s", i, err, outs[i].String())
		}
	}
	if !waiting() {
		t.Errorf("neither run waited for the other: the race did not happen")
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("the tarball was downloaded %d times, want once", n)
	}
	for i, w := range works {
		for _, comp := range []string{"pkg", "repo"} {
			if _, err := os.Stat(filepath.Join(w, "build", comp, "out.txt")); err != nil {
				t.Errorf("run %d did not build %s: %v", i, comp, err)
			}
		}
	}
	if got, _ := os.ReadFile(filepath.Join(cache, "sha256", sha(data))); sha(got) != sha(data) {
		t.Errorf("the cache entry is not the verified file")
	}
	for _, sub := range []string{"partial", "tmp"} {
		if left, _ := os.ReadDir(filepath.Join(cache, sub)); len(left) > 0 {
			t.Errorf("cache/%s holds %d leftover files", sub, len(left))
		}
	}
	repos, _ := filepath.Glob(filepath.Join(cache, "git", "*"))
	for _, r := range repos {
		if strings.HasSuffix(r, ".lock") {
			continue // the repository's lock file, beside it
		}
		if out, err := exec.Command("git", "--git-dir", r, "fsck", "--strict").CombinedOutput(); err != nil {
			t.Errorf("cached repository %s is not sound: %v\n%s", r, err, out)
		}
	}
}
