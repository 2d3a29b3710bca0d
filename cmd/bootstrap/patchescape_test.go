package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// escapeRecipe is a one-component recipe whose source is the directory
// src, patched with patches/escape.patch, and whose step runs STEP.
const escapeRecipe = `name: escape
components:
  - name: c
    source:
      dir: src
    patches:
      - file: patches/escape.patch
    steps:
      - name: use
        run: STEP
`

// writeEscapeFixture lays out a recipe, its source tree and its patch in
// a fresh directory and returns it.
func writeEscapeFixture(t *testing.T, patch, step string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["escape.yaml"] = strings.Replace(escapeRecipe, "STEP", step, 1)
	files["patches/escape.patch"] = patch
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPatchSymlinkEscape is the first patch escape: a git patch
// creates a symlink leading out of the source tree, and a later step
// writes through it into a file outside the work dir. The patch step must
// refuse the patch, naming the patch file, the line and the link, so the
// step never runs and the file outside is untouched.
func TestPatchSymlinkEscape(t *testing.T) {
	// From <dir>/.bootstrap/<recipe>-<target>/src/c, four levels up is
	// <dir>: the link leads to <dir>/victim.txt.
	patch := "diff --git a/victim b/victim\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/victim\n" +
		"@@ -0,0 +1 @@\n+../../../../victim.txt\n\\ No newline at end of file\n"
	dir := writeEscapeFixture(t, patch, "echo pwned >> ${{ src }}/victim",
		map[string]string{"src/keep.txt": "keep\n", "victim.txt": "untouched\n"})
	r := bs(t, dir, "run", "--plain", "escape.yaml")
	if got, _ := os.ReadFile(filepath.Join(dir, "victim.txt")); string(got) != "untouched\n" {
		t.Errorf("victim.txt outside the work dir = %q: a step wrote through the patch's symlink", got)
	}
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (the patch refused)\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"step c:patch failed", `patches/escape.patch:1: refusing "victim", outside the source tree`,
		`the symlink's target "../../../../victim.txt" leads out of the source tree`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if got := started(r.stdout); !equal(got, []string{"c:fetch", "c:patch"}) {
		t.Errorf("started %v, want only c:fetch and c:patch", got)
	}
	if _, err := os.Lstat(filepath.Join(hostWork(dir, "escape"), "src/c/victim")); err == nil {
		t.Error("the refused symlink is in the source tree")
	}
}

// TestPatchDotDotEscape is the second patch escape: a patch from
// /dev/null to b/../../../escaped2 put its line into the tree's existing
// (empty) escaped2, chosen from the other names of its header, and the run
// went on. Every header form of the name is refused, naming the patch
// file, the line and the name; nothing is written anywhere.
func TestPatchDotDotEscape(t *testing.T) {
	cases := []struct {
		name, patch, line string
	}{
		{"git header", "diff --git a/escaped2 b/escaped2\n--- /dev/null\n+++ b/../../../escaped2\n@@ -0,0 +1 @@\n+escaped line\n", ":3:"},
		{"plain", "--- /dev/null\n+++ b/../../../escaped2\n@@ -0,0 +1 @@\n+escaped line\n", ":2:"},
		{"old side names the file", "--- a/escaped2\n+++ b/../../../escaped2\n@@ -0,0 +1 @@\n+escaped line\n", ":2:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeEscapeFixture(t, tc.patch, "cat ${{ src }}/escaped2",
				map[string]string{"src/escaped2": "", "src/keep.txt": "keep\n"})
			r := bs(t, dir, "run", "--plain", "escape.yaml")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1 (the patch refused)\n%s%s", r.code, r.stdout, r.stderr)
			}
			want := "patches/escape.patch" + tc.line + ` refusing "b/../../../escaped2", outside the source tree`
			if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, `".." component`) {
				t.Errorf("stderr lacks %q and the reason:\n%s", want, r.stderr)
			}
			err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
				if err == nil && fi.Name() == "escaped2" && fi.Size() != 0 {
					t.Errorf("%s was written (%d bytes)", p, fi.Size())
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
