package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// git runs the git CLI in dir as a porter would, isolated from the
// caller's configuration.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Pat Porter", "-c", "user.email=pat@example.org"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestPatchRoundTrip builds a component with one patch, edits its patches
// with `patch edit` and git, saves the new commit with `patch save`, and
// checks the files written, the recipe edit, and that the next run
// rebuilds exactly from greet:patch on with the change.
func TestPatchRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git CLI")
	}
	dir := copyFixture(t, "patchrt")
	recipePath := filepath.Join(dir, "patchrt.yaml")
	original := readFile(t, recipePath)
	greeting := filepath.Join(hostWork(dir, "patchrt"), "install/greeting.txt")

	r := bs(t, dir, "run", "patchrt.yaml")
	if r.code != 0 || !strings.Contains(readFile(t, greeting), "board: testboard\n") {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = bs(t, dir, "patch", "edit", "patchrt.yaml", "greet")
	work := filepath.Join(hostWork(dir, "patchrt"), "edit/greet")
	if r.code != 0 || !strings.Contains(r.stdout, "greet: work tree "+work+"\n") ||
		!strings.Contains(r.stdout, "bootstrap patch save patchrt.yaml greet\n") {
		t.Fatalf("patch edit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if log := git(t, work, "log", "--format=%s <%ae>"); log != "Name the board <alice@example.org>\nUnpacked source, no patches <bootstrap@localhost>\n" {
		t.Errorf("work tree history:\n%s", log)
	}
	if left, _ := filepath.Glob(filepath.Join(hostWork(dir, "patchrt"), "edit/.greet.*")); len(left) > 0 {
		t.Errorf("patch edit left %v behind", left)
	}

	edit(t, filepath.Join(work, "greet.sh"), `echo "hello from greet"`, `echo "hello from the patched greet"`)
	git(t, work, "commit", "-q", "-a", "-m", "Greet louder\n\nThe board's console is far away.")

	r = bs(t, dir, "patch", "edit", "patchrt.yaml", "greet")
	if r.code != 2 || !strings.Contains(r.stderr, "rm -rf "+work) || !strings.Contains(r.stderr, "patchrt.yaml: component greet") {
		t.Errorf("patch edit over a work tree: exit %d\n%s", r.code, r.stderr)
	}

	r = bs(t, dir, "patch", "save", "patchrt.yaml", "greet")
	const newPatch = "patches/greet/1.0/0002-Greet-louder.patch"
	for _, want := range []string{"wrote " + newPatch + "\n", "updated patches/greet/1.0/series\n",
		"added `- series: patches/greet/1.0/series` to the patches of greet in patchrt.yaml\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("patch save: exit %d, stdout lacks %q\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	p := readFile(t, filepath.Join(dir, newPatch))
	for _, want := range []string{"From: Pat Porter <pat@example.org>\n", "Subject: [PATCH] Greet louder\n",
		"The board's console is far away.\n", "-echo \"hello from greet\"\n+echo \"hello from the patched greet\"\n"} {
		if !strings.Contains(p, want) {
			t.Errorf("%s lacks %q:\n%s", newPatch, want, p)
		}
	}
	if s := readFile(t, filepath.Join(dir, "patches/greet/1.0/series")); s != "0002-Greet-louder.patch\n" {
		t.Errorf("series = %q", s)
	}
	want := strings.Replace(original, "0001-Name-the-board.patch\n",
		"0001-Name-the-board.patch\n      - series: patches/greet/1.0/series\n", 1)
	if got := readFile(t, recipePath); got != want {
		t.Errorf("recipe after save:\n%s\nwant:\n%s", got, want)
	}

	r = bs(t, dir, "run", "patchrt.yaml")
	if got, want := started(r.stdout), []string{"greet:build", "greet:install", "greet:patch"}; r.code != 0 || !equal(got, want) {
		t.Fatalf("run after save: exit %d, started %v, want %v\n%s%s", r.code, got, want, r.stdout, r.stderr)
	}
	if g := readFile(t, greeting); g != "hello from the patched greet\nboard: testboard\ncpu: generic\nbye\n" {
		t.Errorf("greeting after save = %q", g)
	}
	r = bs(t, dir, "run", "patchrt.yaml")
	if r.code != 0 || len(started(r.stdout)) != 0 {
		t.Errorf("second run: exit %d, started %v", r.code, started(r.stdout))
	}

	r = bs(t, dir, "patch", "save", "patchrt.yaml", "greet")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing written") || readFile(t, recipePath) != want {
		t.Errorf("save without new commits: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A further commit joins the series the recipe now lists.
	edit(t, filepath.Join(work, "greet.sh"), `echo "bye"`, `echo "ciao"`)
	git(t, work, "commit", "-q", "-a", "-m", "Say ciao")
	r = bs(t, dir, "patch", "save", "patchrt.yaml", "greet")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote patches/greet/1.0/0003-Say-ciao.patch\n") || strings.Contains(r.stdout, "added") {
		t.Fatalf("third save: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := readFile(t, filepath.Join(dir, "patches/greet/1.0/series")); s != "0002-Greet-louder.patch\n0003-Say-ciao.patch\n" || readFile(t, recipePath) != want {
		t.Errorf("after the third save: series %q, recipe changed: %v", s, readFile(t, recipePath) != want)
	}
	r = bs(t, dir, "run", "patchrt.yaml")
	if got, want := started(r.stdout), []string{"greet:build", "greet:install", "greet:patch"}; r.code != 0 || !equal(got, want) ||
		!strings.HasSuffix(readFile(t, greeting), "ciao\n") {
		t.Errorf("run after the third save: exit %d, started %v, want %v\n%s", r.code, got, want, r.stderr)
	}
}

// TestPatchUsage checks the errors a porter sees for a wrong component or
// a save without an edit.
func TestPatchUsage(t *testing.T) {
	dir := copyFixture(t, "patchrt")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"patch", "edit", "patchrt.yaml"}, "usage: bootstrap patch edit RECIPE COMPONENT"},
		{[]string{"patch", "edit", "patchrt.yaml", "nope"}, `patchrt.yaml: no component "nope"`},
		{[]string{"patch", "edit", "patchrt.yaml", "other"}, "component other (patchrt.yaml:22:5) has no source"},
		{[]string{"patch", "save", "patchrt.yaml", "greet"}, "run `bootstrap patch edit patchrt.yaml greet` first"},
		{[]string{"patch", "save", "patchrt.yaml", "nope"}, `patchrt.yaml: no component "nope"`},
		{[]string{"patch", "check", "patchrt.yaml", "nope"}, `patchrt.yaml: no component "nope"`},
	} {
		r := bs(t, dir, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr lacks %q:\n%s", tt.args, r.code, tt.want, r.stderr)
		}
	}
}

// TestPatchCheck runs `patch check` on a patch that applies, one that has
// drifted from its source (it needs the recipe's fuzz) and one that no
// longer applies at all.
func TestPatchCheck(t *testing.T) {
	const file = "patches/greet/0001-Name-the-board.patch"
	for _, tc := range []struct {
		name     string
		from, to string // the change to greet/greet.sh
		fuzz     bool   // give the patch fuzz: 1 in the recipe
		code     int
		want     string
	}{
		{"applies", "", "", false, 0, "ok    greet  " + file + "\n"},
		{"drifted", "#!/bin/sh", "#!/bin/bash", true, 1, "FUZZ  greet  " + file + ": applies only with fuzz 1"},
		{"drifted without fuzz", "#!/bin/sh", "#!/bin/bash", false, 1, "FAIL  greet  " + file + ":"},
		{"changed line", `"board: unknown"`, `"board: none"`, true, 1, "FAIL  greet  " + file + ":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, "patchrt")
			if tc.from != "" {
				edit(t, filepath.Join(dir, "greet/greet.sh"), tc.from, tc.to)
			}
			if tc.fuzz {
				edit(t, filepath.Join(dir, "patchrt.yaml"), file+"\n", file+"\n        fuzz: 1\n")
			}
			before := readFile(t, filepath.Join(dir, "greet/greet.sh"))
			r := bs(t, dir, "patch", "check", "patchrt.yaml")
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
				t.Fatalf("exit %d, want %d and %q in\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			if tc.code != 0 && !strings.Contains(r.stderr, "do not apply with fuzz 0") {
				t.Errorf("stderr does not say why it failed: %s", r.stderr)
			}
			if readFile(t, filepath.Join(dir, "greet/greet.sh")) != before {
				t.Error("patch check changed the source")
			}
			if _, err := os.Stat(filepath.Join(dir, ".bootstrap")); err == nil {
				t.Error("patch check made a work dir")
			}
		})
	}
}

// TestPinCommand pins a url source offline (a file:// URL) through the
// real binary: the recipe gets its sha256: and size: lines in place, keeping its
// comments and mode, and a second pin changes nothing.
func TestPinCommand(t *testing.T) {
	dir := t.TempDir()
	tarball := filepath.Join(dir, "tool-1.0.tar.gz")
	if err := os.WriteFile(tarball, []byte("not really a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte("not really a tarball")))
	recipeText := "name: pinme\ncomponents:\n  - name: tool   # keep me\n    source:\n      url: file://" + tarball +
		"\n    steps:\n      - name: b\n        run: \"true\"\n"
	path := filepath.Join(dir, "pinme.yaml")
	if err := os.WriteFile(path, []byte(recipeText), 0o600); err != nil {
		t.Fatal(err)
	}
	r := bs(t, dir, "pin", "--offline", "pinme.yaml")
	want := strings.Replace(recipeText, ".tar.gz\n", ".tar.gz\n      sha256: "+sum+"\n      size: 20\n", 1)
	from := " (from file://" + tarball + ")\n"
	if r.code != 0 || r.stdout != "pinme.yaml:6: component tool: sha256: "+sum+from+"pinme.yaml:7: component tool: size: 20"+from {
		t.Fatalf("pin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := readFile(t, path); got != want {
		t.Errorf("recipe:\n%s\nwant:\n%s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("recipe mode now %v, want 0600 kept", fi.Mode().Perm())
	}
	r = bs(t, dir, "pin", "--offline", "pinme.yaml")
	if r.code != 0 || r.stdout != "pinme.yaml: every source is already pinned\n" || readFile(t, path) != want {
		t.Errorf("second pin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
