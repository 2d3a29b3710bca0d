package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// hostWork is the default work dir of recipe under dir for this host's
// target, as the binary computes it.
func hostWork(dir, recipe string) string {
	target := runtime.GOARCH
	if h, err := arch.DetectHost(); err == nil {
		target = h.Target.Name
	}
	return filepath.Join(dir, workdir.Default(recipe, target))
}

// tree lists every path under dir (relative, sorted), to compare a
// directory before and after a command.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		paths = append(paths, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	return paths
}

// foreignDir makes a directory that was never a work dir: x, sub/y and
// .git/HEAD, as in issue 19.
func foreignDir(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"x", "sub/y", ".git/HEAD"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWorkDirForeignRefused points every command that removes or creates
// things at directories bootstrap did not create: each exits 2, names the
// directory and says why, and leaves every file where it was.
func TestWorkDirForeignRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// workdir is the --workdir value, relative to the fixture.
		workdir string
		// args follow the command and --workdir.
		args []string
		want string
	}{
		{"clean", "notwork", []string{"clean", "chain.yaml"}, "is not a bootstrap work dir"},
		{"clean step", "notwork", []string{"clean", "chain.yaml", "data:make"}, "is not a bootstrap work dir"},
		{"clean dot", ".", []string{"clean", "chain.yaml"}, "is not a bootstrap work dir"},
		{"run", "notwork", []string{"run", "chain.yaml"}, "refusing to use it as a work dir"},
		{"run dot", ".", []string{"run", "chain.yaml"}, "refusing to use it as a work dir"},
		{"run dry", "notwork", []string{"run", "--dry-run", "chain.yaml"}, "refusing to use it as a work dir"},
		{"patch edit", "notwork", []string{"patch", "edit", "chain.yaml", "tool"}, "refusing to use it as a work dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, "chain")
			foreignDir(t, filepath.Join(dir, "notwork"))
			foreignDir(t, dir)
			before := tree(t, dir)
			cmd := 1 // the command's words before its flags
			if tc.args[0] == "patch" {
				cmd = 2
			}
			args := append(append(append([]string{}, tc.args[:cmd]...), "--workdir", tc.workdir), tc.args[cmd:]...)
			r := bs(t, dir, args...)
			abs := filepath.Join(dir, tc.workdir)
			if tc.workdir == "." {
				abs = dir
			}
			if r.code != 2 || !strings.Contains(r.stderr, "work dir "+abs+": "+tc.want) || !strings.Contains(r.stderr, workdir.MarkerName) ||
				!strings.Contains(r.stderr, "it holds .git, ") {
				t.Errorf("%v: exit %d, want 2 and %q naming %s\n%s%s", args, r.code, tc.want, abs, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "provenance") {
				t.Errorf("a refused run speaks of its record:\n%s", r.stderr)
			}
			if after := tree(t, dir); !equal(after, before) {
				t.Errorf("%v changed the directory:\nbefore %v\nafter  %v", args, before, after)
			}
		})
	}
}

// TestWorkDirLegacyAdopted takes a work dir as today's release leaves it
// (the same layout, no marker): clean refuses it and says how it is
// adopted; run adopts it, says so once, and its checkpoints stay done.
func TestWorkDirLegacyAdopted(t *testing.T) {
	dir := copyFixture(t, "chain")
	work := filepath.Join(dir, "old")
	if r := bs(t, dir, "run", "--workdir", work, "chain.yaml"); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// What the release before the marker leaves: lock ("pid N …"),
	// state/, logs/, src/, build/, … and no marker.
	if err := os.Remove(filepath.Join(work, workdir.MarkerName)); err != nil {
		t.Fatal(err)
	}
	before := tree(t, work)

	r := bs(t, dir, "clean", "--workdir", work, "chain.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "work dir "+work+": was made by an earlier bootstrap") || !strings.Contains(r.stderr, "`bootstrap run` adopts it") {
		t.Errorf("clean of a legacy work dir: exit %d, want 2 and how to adopt it\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := tree(t, work); !equal(after, before) {
		t.Errorf("clean changed the legacy work dir:\nbefore %v\nafter  %v", before, after)
	}

	r = bs(t, dir, "run", "--plain", "--workdir", work, "chain.yaml")
	if r.code != 0 || strings.Count(r.stdout, "adopted work dir "+work+" made by an earlier bootstrap") != 1 {
		t.Fatalf("run on a legacy work dir: exit %d, want 0 and one line saying it was adopted\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := started(r.stdout); len(got) != 0 {
		t.Errorf("adopting reran %v: the checkpoints must stay done", got)
	}
	var m workdir.Marker
	data, err := os.ReadFile(filepath.Join(work, workdir.MarkerName))
	if err != nil || json.Unmarshal(data, &m) != nil || m.Format != workdir.Format || !m.Adopted || m.Recipe != "chain" {
		t.Errorf("marker after adoption: %s (%v)", data, err)
	}
	r = bs(t, dir, "run", "--plain", "--workdir", work, "chain.yaml")
	if r.code != 0 || strings.Contains(r.stdout, "adopted") {
		t.Errorf("second run: exit %d, adoption said again\n%s", r.code, r.stdout)
	}
}

// TestWorkDirCleanKeepsWhatItDidNotMake cleans a marked work dir holding a
// file bootstrap never made and a patch work tree: both stay, and clean
// lists them; everything a run made goes.
func TestWorkDirCleanKeepsWhatItDidNotMake(t *testing.T) {
	dir := copyFixture(t, "chain")
	if r := bs(t, dir, "run", "chain.yaml"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	work := hostWork(dir, "chain")
	for _, f := range []string{"notes.txt", "edit/tool/file.c"} {
		p := filepath.Join(work, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := bs(t, dir, "clean", "chain.yaml")
	if r.code != 0 {
		t.Fatalf("clean: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"kept " + filepath.Join(work, "notes.txt") + ": bootstrap did not create it",
		"kept " + filepath.Join(work, "edit") + ": patch work trees",
		"removed build, home, install, logs, provenance.json, running, src, state, tmp from " + work,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("clean output lacks %q:\n%s", want, r.stdout)
		}
	}
	if got, want := tree(t, work), []string{".", workdir.MarkerName, "edit", "edit/tool", "edit/tool/file.c", "lock", "notes.txt"}; !equal(got, want) {
		t.Errorf("after clean the work dir holds %v, want %v", got, want)
	}
	// Still a work dir: the next run builds everything again.
	if r := bs(t, dir, "run", "chain.yaml"); r.code != 0 || len(started(r.stdout)) != 7 {
		t.Errorf("run after clean: exit %d, started %v", r.code, started(r.stdout))
	}
}

// TestWorkDirDefaultPerTarget runs one recipe for two targets with the
// default work dir: each target keeps its own checkpoints. The old default
// ./.bootstrap/<recipe>, when present, is named once on stderr.
func TestWorkDirDefaultPerTarget(t *testing.T) {
	arm := testRootfs(t, "arm64")
	ppc := testRootfs(t, "ppc64el")
	dir := copyFixture(t, "emulate")
	t.Setenv("BOOTSTRAP_TEST_SLEEP", "0")
	old := filepath.Join(dir, ".bootstrap", "emulate")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	runFor := func(target, root string) result {
		return bs(t, dir, "run", "--plain", "--emulate", "--rootfs", root, "--target", target, "emulate.yaml")
	}
	if err := os.Rename(filepath.Join(dir, "recipe.yaml"), filepath.Join(dir, "emulate.yaml")); err != nil {
		t.Fatal(err)
	}
	r := runFor("arm64", arm)
	if r.code != 0 {
		t.Fatalf("arm64: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stderr, "./.bootstrap/emulate is no longer the default work dir of emulate: it is now ./.bootstrap/emulate-arm64"); n != 1 {
		t.Errorf("the old default dir is named %d times, want once:\n%s", n, r.stderr)
	}
	if r = runFor("ppc64le", ppc); r.code != 0 {
		t.Fatalf("ppc64le: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, target := range []string{"arm64", "ppc64le"} {
		if !checkpointed(filepath.Join(dir, ".bootstrap", "emulate-"+target), "probe:uname") {
			t.Errorf("%s lost its checkpoints", target)
		}
	}
	r = runFor("arm64", arm)
	if r.code != 0 || len(started(r.stdout)) != 0 {
		t.Errorf("arm64 again after ppc64le: exit %d, reran %v", r.code, started(r.stdout))
	}
	if strings.Contains(r.stderr, "no longer the default") {
		t.Errorf("the old default is named again once the new one exists:\n%s", r.stderr)
	}
}

// bsReadOnly runs the binary with the directories ro mounted read-only: in
// a mount namespace of its own, each is bind-mounted on itself and
// remounted read-only. Root ignores permission bits, so only a read-only
// mount makes a directory truly unwritable for the tests (run as root
// here and in CI); the test is skipped for other users.
func bsReadOnly(t *testing.T, dir string, ro []string, args ...string) result {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a read-only mount needs root (unshare -m, mount)")
	}
	script := ""
	for i := range ro {
		script += fmt.Sprintf(`mount --bind "$%d" "$%d" && mount -o remount,bind,ro "$%d" && `, i+1, i+1, i+1)
	}
	script += fmt.Sprintf(`shift %d && exec "$@"`, len(ro))
	full := append(append([]string{"-m", "sh", "-c", script, "sh"}, ro...), append([]string{binary}, args...)...)
	cmd := exec.Command("unshare", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"))
	return runResult(t, cmd)
}

// git runs git in dir and returns its trimmed output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
		"GIT_AUTHOR_DATE=2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2020-01-01T00:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestWorkDirReadOnlyCache fills a cache with a tarball and a git
// repository, mounts it read-only and runs offline: every source is read
// from it. A source it lacks fails clearly, naming the read-only cache.
func TestWorkDirReadOnlyCache(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	// A tarball, put in the cache under its hash.
	if err := os.MkdirAll(filepath.Join(dir, "pkg/pkg-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "pkg/pkg-1/hello.txt"), []byte("hello from a tarball\n"), 0o644)
	if out, err := exec.Command("tar", "-C", filepath.Join(dir, "pkg"), "-czf", filepath.Join(dir, "pkg-1.tar.gz"), "pkg-1").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "pkg-1.tar.gz"))
	sum := sha256.Sum256(data)
	// A git repository, fetched into the cache by `bootstrap fetch`.
	repo := filepath.Join(dir, "repo")
	os.MkdirAll(repo, 0o755)
	gitIn(t, repo, "init", "-q")
	os.WriteFile(filepath.Join(repo, "g.txt"), []byte("hello from git\n"), 0o644)
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-q", "-m", "one")
	commit := gitIn(t, repo, "rev-parse", "HEAD")
	recipe := fmt.Sprintf(`name: rocache
components:
  - name: tar
    source:
      url: http://127.0.0.1:9/pkg-1.tar.gz
      sha256: %x
      strip: 1
    steps:
      - name: build
        run: cat ${{ src }}/hello.txt > out.txt
  - name: git
    source:
      git: file://%s
      commit: %s
    steps:
      - name: build
        run: cat ${{ src }}/g.txt > out.txt
`, sum, repo, commit)
	os.WriteFile(filepath.Join(dir, "rocache.yaml"), []byte(recipe), 0o644)
	if r := bs(t, dir, "cache", "add", "--cache", cache, filepath.Join(dir, "pkg-1.tar.gz")); r.code != 0 {
		t.Fatalf("cache add: exit %d\n%s", r.code, r.stderr)
	}
	if r := bs(t, dir, "fetch", "--cache", cache, "rocache.yaml"); r.code != 0 {
		t.Fatalf("fetch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	before := tree(t, cache)

	r := bsReadOnly(t, dir, []string{cache}, "run", "--plain", "--offline", "--cache", cache, "rocache.yaml")
	if r.code != 0 {
		t.Fatalf("offline run from a read-only cache: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	work := hostWork(dir, "rocache")
	for comp, want := range map[string]string{"tar": "hello from a tarball\n", "git": "hello from git\n"} {
		if got, _ := os.ReadFile(filepath.Join(work, "build", comp, "out.txt")); string(got) != want {
			t.Errorf("%s built %q, want %q", comp, got, want)
		}
	}
	if after := tree(t, cache); !equal(after, before) {
		t.Errorf("the read-only cache changed:\nbefore %v\nafter  %v", before, after)
	}

	// A cache filled without lock files (copied, or by an older
	// bootstrap) is read without locks.
	locks, _ := filepath.Glob(filepath.Join(cache, "git", "*.lock"))
	for _, p := range append(locks, filepath.Join(cache, "locks")) {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	before = tree(t, cache)
	r = bsReadOnly(t, dir, []string{cache}, "run", "--plain", "--offline", "--force-all", "--cache", cache, "rocache.yaml")
	if r.code != 0 || len(started(r.stdout)) != 6 {
		t.Fatalf("offline rerun from a read-only cache without lock files: exit %d, started %v\n%s%s", r.code, started(r.stdout), r.stdout, r.stderr)
	}
	if after := tree(t, cache); !equal(after, before) {
		t.Errorf("the read-only cache changed:\nbefore %v\nafter  %v", before, after)
	}

	// A source the read-only cache lacks: the error says so.
	edit(t, filepath.Join(dir, "rocache.yaml"), "run: cat ${{ src }}/hello.txt", "run: cat ${{ src }}/hello.txt; echo 2")
	edit(t, filepath.Join(dir, "rocache.yaml"), fmt.Sprintf("sha256: %x", sum), "sha256: "+strings.Repeat("ab", 32))
	r = bsReadOnly(t, dir, []string{cache}, "run", "--plain", "--cache", cache, "rocache.yaml")
	if r.code != 1 || !strings.Contains(r.stderr, "pkg-1.tar.gz: not in the cache, and the cache "+cache+" cannot be written") {
		t.Errorf("a source missing from a read-only cache: exit %d, want 1 and the cache named\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestWorkDirUnwritable runs with a work dir that cannot be created (its
// parent is read-only) and one that cannot be locked (it is read-only):
// the error names the work dir and what failed, exits 2, and no
// provenance record is attempted for a run that never started.
func TestWorkDirUnwritable(t *testing.T) {
	for _, tc := range []struct {
		name string
		// ro is mounted read-only, relative to the fixture.
		ro   string
		work string
		want string
	}{
		{"parent read-only", "parent", "parent/work", "cannot create it: mkdir "},
		{"work dir read-only", "made", "made", "cannot lock it: open lock: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, "chain")
			os.MkdirAll(filepath.Join(dir, "parent"), 0o755)
			if r := bs(t, dir, "run", "--workdir", "made", "--to", "tool:fetch", "chain.yaml"); r.code != 0 {
				t.Fatalf("making a work dir: exit %d\n%s", r.code, r.stderr)
			}
			work := filepath.Join(dir, tc.work)
			r := bsReadOnly(t, dir, []string{filepath.Join(dir, tc.ro)}, "run", "--workdir", work, "chain.yaml")
			if r.code != 2 || !strings.Contains(r.stderr, "work dir "+work+": "+tc.want) || !strings.Contains(r.stderr, "read-only file system") {
				t.Errorf("exit %d, want 2 and %q\n%s%s", r.code, "work dir "+work+": "+tc.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "provenance") {
				t.Errorf("the provenance record masks the error:\n%s", r.stderr)
			}
		})
	}
}
