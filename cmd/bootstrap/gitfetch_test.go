package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/runner/source/gitsrc"
	"github.com/porterkit/bootstrap/runner/source/gitsrc/gittest"
)

// TestGitFetchKilled SIGKILLs `bootstrap fetch` while the pack of a pinned
// commit is on its way from a slow loopback server, then runs it again:
// the second run repairs the cached repository and finishes, and the
// repository passes git fsck. Both ways of fetching: the git command and
// go-git (BOOTSTRAP_GIT=none).
func TestGitFetchKilled(t *testing.T) {
	root := t.TempDir()
	commit := bigRepo(t, root, "big.git")
	srv, err := gittest.Start(gittest.Options{Root: root, Slow: 20 * time.Millisecond, SHAWants: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := srv.URL + "/big.git"
	recipe := filepath.Join(t.TempDir(), "big.yaml")
	os.WriteFile(recipe, []byte(fmt.Sprintf("name: big\ncomponents:\n  - name: big\n    source:\n      git: %s\n      commit: %s\n    steps:\n      - name: build\n        run: \"true\"\n", url, commit)), 0o644)
	for _, backend := range []string{"git", "none"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			cache := filepath.Join(dir, "cache")
			cmd := exec.Command(binary, "fetch", "--cache", cache, recipe)
			cmd.Env = append(os.Environ(), "BOOTSTRAP_GIT="+backend)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := srv.BytesSent()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for srv.BytesSent()-start < 256<<10 {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("the pack did not start coming:\n%s", out.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			repo := gitsrc.RepoPath(cache, url)
			if idx, _ := filepath.Glob(filepath.Join(repo, "objects/pack/*.idx")); len(idx) > 0 {
				t.Fatalf("killed too late: the pack is complete (%v)", idx)
			}
			// The git child dies with bootstrap (or holds the lock until
			// it does): the rerun must not find a fetch in progress.
			r := bs(t, dir, "fetch", "--cache", cache, recipe)
			if r.code != 0 {
				t.Fatalf("rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if out, err := exec.Command("git", "--git-dir="+repo, "fsck", "--no-dangling").CombinedOutput(); err != nil {
				t.Fatalf("git fsck: %v\n%s", err, out)
			}
			leftovers, _ := filepath.Glob(filepath.Join(repo, "objects/pack/tmp_*"))
			if len(leftovers) > 0 {
				t.Errorf("left over after the rerun: %v", leftovers)
			}
		})
	}
}

// bigRepo makes a bare repository root/name whose one commit holds 3 MB
// that does not compress, and returns the commit.
func bigRepo(t *testing.T, root, name string) string {
	t.Helper()
	work := filepath.Join(t.TempDir(), "w")
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=main", "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	os.MkdirAll(work, 0o755)
	git(work, "init", "-q")
	buf := make([]byte, 16<<10)
	for i := range 200 {
		rand.Read(buf)
		os.WriteFile(filepath.Join(work, fmt.Sprintf("blob%03d", i)), []byte(hex.EncodeToString(buf)[:len(buf)]), 0o644)
	}
	git(work, "add", "-A")
	git(work, "commit", "-qm", "big")
	git(root, "clone", "-q", "--bare", work, filepath.Join(root, name))
	return git(work, "rev-parse", "HEAD")
}
