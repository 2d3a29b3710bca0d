package main

import (
	"encoding/json"
	"os"
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
			if r.code != 2 || !strings.Contains(r.stderr, "work dir "+abs+": "+tc.want) || !strings.Contains(r.stderr, workdir.MarkerName) {
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
