package patch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// escapeTree is the tree every escape case starts from, next to a
// directory "outside" holding "file". It has symlinks of every kind the
// cases need: one leading out ("escape"), one to the tree's top from a
// subdirectory ("d/s"), one to a directory inside ("in") and a loop.
var escapeTree = map[string]string{
	"a.txt": "one\n", "escaped2": "", "sub/keep": "", "d/keep": "",
	"d/s": "-> ..", "escape": "-> ../outside", "in": "-> d",
	"loop1": "-> loop2", "loop2": "-> loop1",
}

// escapeCase is one patch from testdata/escape applied to escapeTree.
type escapeCase struct {
	file  string
	strip int
	// line and name must appear in the error as "file:line" and the
	// quoted name; why is a further substring. A case without line
	// applies, and want lists files it must leave in the tree.
	line      int
	name, why string
	want      map[string]string
	// gnu and git are what GNU patch and git apply do with the patch
	// ("refuse" or "apply"), checked when they are installed; "" skips.
	gnu, git string
}

var escapeCases = []escapeCase{
	// The case: GNU patch ignores the +++ name and patches escaped2.
	{file: "git-line-safe-plus-dotdot", strip: 1, line: 3, name: "b/../../../escaped2", why: `becomes "../../../escaped2" with -p1, which has a ".." component`, gnu: "apply", git: "refuse"},
	{file: "plus-dotdot", strip: 1, line: 2, name: "b/../../../escaped2", why: "+++ line", gnu: "refuse", git: "refuse"},
	{file: "minus-safe-plus-dotdot", strip: 1, line: 2, name: "b/../../../escaped2", gnu: "apply", git: "refuse"},
	{file: "git-line-dotdot", strip: 1, line: 1, name: "a/../x", why: "diff --git line", gnu: "refuse", git: "refuse"},
	{file: "index-dotdot", strip: 1, line: 1, name: "src/../../escaped2", why: "Index: line", gnu: "refuse", git: "refuse"},
	// GNU patch ignores the rename's names and renames escaped2 to itself.
	{file: "rename-to-dotdot", strip: 1, line: 4, name: "../escaped2", why: "rename to line", gnu: "apply", git: "refuse"},
	{file: "copy-from-dotdot", strip: 1, line: 3, name: "../../etc/passwd", why: "copy from line", gnu: "refuse", git: "refuse"},
	{file: "strip-leaves-dotdot", strip: 2, line: 1, name: "a/src/../../escaped2", why: `becomes "../../escaped2" with -p2`, gnu: "refuse", git: "refuse"},
	// -p2 strips the ".." away: what is left is inside, as for GNU patch and git.
	{file: "strip-removes-dotdot", strip: 2, want: map[string]string{"escaped2": "escaped line\n"}, gnu: "apply", git: "apply"},
	{file: "absolute", strip: 0, line: 2, name: "/tmp/escaped3", why: "is absolute", gnu: "refuse", git: "refuse"},
	// -p1 makes an absolute name relative: tmp/escaped3, in the tree.
	{file: "absolute", strip: 1, want: map[string]string{"tmp/escaped3": "escaped line\n"}, gnu: "apply", git: "apply"},
	{file: "context-dotdot", strip: 1, line: 1, name: "a/../escaped2", why: "*** line", gnu: "refuse"},
	{file: "context-clean", strip: 1, line: 1, why: "context diff", gnu: "apply"},
	{file: "binary-dotdot", strip: 1, line: 1, name: "a/../x.bin", why: "diff --git line", git: "refuse"},
	// Both GNU patch and git apply create a symlink to anywhere; a later
	// step would write through it.
	{file: "symlink-absolute", strip: 1, line: 1, name: "l", why: `target "/etc/passwd" leads out of the source tree`, gnu: "apply", git: "apply"},
	{file: "symlink-dotdot", strip: 1, line: 1, name: "l", why: `".." climbs above the top of the tree`, gnu: "apply", git: "apply"},
	{file: "symlink-sub-dotdot", strip: 1, line: 1, name: "sub/l", why: "climbs above"},
	{file: "symlink-out-and-back", strip: 1, line: 1, name: "l", why: "climbs above"},
	{file: "symlink-via-tree-link", strip: 1, line: 1, name: "l", why: "through the symlink d/s -> .."},
	{file: "symlink-via-patch-link", strip: 1, line: 9, name: "l", why: "through the symlink d/up -> .."},
	{file: "symlink-loop", strip: 1, line: 1, name: "l", why: "too many levels of symbolic links"},
	{file: "symlink-retarget", strip: 1, line: 1, name: "l", why: `"/etc/passwd"`},
	// Deleting a symlink that leads out (from the source's archive) is fine.
	{file: "symlink-delete-escaping", strip: 1, want: map[string]string{"escape": ""}, gnu: "apply", git: "apply"},
	{file: "symlink-sub-inside", strip: 1, want: map[string]string{"sub/l": "-> ../a.txt"}},
	{file: "through-tree-link", strip: 1, line: 1, name: "escape/pwned", why: "reaching it leads out of the source tree: \"..\" climbs above the top of the tree (through the symlink escape -> ../outside)"},
	{file: "through-inside-link", strip: 1, want: map[string]string{"d/new.txt": "new\n"}},
}

// makeEscapeTree lays out dir/tree (escapeTree) and dir/outside/file and
// returns the tree's path.
func makeEscapeTree(t *testing.T, dir string) string {
	t.Helper()
	tree := filepath.Join(dir, "tree")
	writeTree(t, tree, escapeTree)
	writeTree(t, dir, map[string]string{"outside/file": "outside\n"})
	return tree
}

// TestEscapes applies each patch of testdata/escape and checks that one
// that would leave the tree is refused with an *EscapeError naming the
// patch file, the line and the name, and that the tree and its
// surroundings are left exactly as they were.
func TestEscapes(t *testing.T) {
	for _, tc := range escapeCases {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			tree := makeEscapeTree(t, dir)
			if tc.file == "symlink-retarget" {
				writeTree(t, tree, map[string]string{"l": "-> a.txt"})
			}
			pfile, err := filepath.Abs(filepath.Join("testdata", "escape", tc.file+".patch"))
			if err != nil {
				t.Fatal(err)
			}
			before, _ := readTree(t, dir)
			var log bytes.Buffer
			_, err = Apply(context.Background(), tree, plan.Patch{File: pfile, Strip: tc.strip}, &log)
			after, _ := readTree(t, dir)
			if tc.line == 0 {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				for name, content := range tc.want {
					if got := after["tree/"+name]; got != content {
						t.Errorf("%s = %q, want %q", name, got, content)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("Apply succeeded, want a refusal\nlog:\n%s", log.String())
			}
			var esc *EscapeError
			if tc.name != "" && !errors.As(err, &esc) {
				t.Errorf("error %T, want *EscapeError: %v", err, err)
			}
			for _, w := range []string{pfile + ":" + strconv.Itoa(tc.line) + ": ", `"` + tc.name + `"`, tc.why} {
				if w != `""` && !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !equalMaps(before, after) {
				t.Errorf("a refused patch changed the files:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// TestEscapesAgainstGNUAndGit runs GNU patch and git apply on the same
// patches and trees, to keep the table's account of what they do honest:
// where they apply a patch we refuse, the difference is deliberate.
func TestEscapesAgainstGNUAndGit(t *testing.T) {
	tools := map[string]func(pfile string, strip int) *exec.Cmd{
		"gnu": func(pfile string, strip int) *exec.Cmd {
			return exec.Command("patch", "-p"+strconv.Itoa(strip), "--batch", "--forward", "--no-backup-if-mismatch", "-i", pfile)
		},
		"git": func(pfile string, strip int) *exec.Cmd {
			return exec.Command("git", "apply", "-p"+strconv.Itoa(strip), pfile)
		},
	}
	for tool, command := range tools {
		if _, err := exec.LookPath(command("", 0).Args[0]); err != nil {
			t.Logf("%s not installed: skipping its comparison", tool)
			continue
		}
		for _, tc := range escapeCases {
			want := map[string]string{"gnu": tc.gnu, "git": tc.git}[tool]
			if want == "" {
				continue
			}
			t.Run(tool+"/"+tc.file, func(t *testing.T) {
				dir := t.TempDir()
				tree := makeEscapeTree(t, dir)
				if tc.file == "symlink-retarget" {
					writeTree(t, tree, map[string]string{"l": "-> a.txt"})
				}
				pfile, _ := filepath.Abs(filepath.Join("testdata", "escape", tc.file+".patch"))
				before, _ := readTree(t, dir)
				cmd := command(pfile, tc.strip)
				cmd.Dir = tree
				out, err := cmd.CombinedOutput()
				after, _ := readTree(t, dir)
				got := "apply"
				if err != nil && equalMaps(before, after) {
					got = "refuse"
				}
				if got != want {
					t.Errorf("%s: %s, want %s (exit %v)\n%s", strings.Join(cmd.Args, " "), got, want, err, out)
				}
			})
		}
	}
}

// TestEscapeInSeries checks a quilt series line's own -pN: the name is
// checked after the series' strip level, and the error names the patch
// the series lists.
func TestEscapeInSeries(t *testing.T) {
	dir := t.TempDir()
	tree := makeEscapeTree(t, dir)
	data, err := os.ReadFile(filepath.Join("testdata", "escape", "strip-leaves-dotdot.patch"))
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{
		"patches/series": "ok.patch\nesc.patch -p2\n", "patches/esc.patch": string(data),
		"patches/ok.patch": "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+ONE\n",
	})
	before, _ := readTree(t, tree)
	rec, err := Apply(context.Background(), tree, plan.Patch{Series: filepath.Join(dir, "patches/series"), Strip: 1}, &bytes.Buffer{})
	var esc *EscapeError
	if !errors.As(err, &esc) || esc.Patch != filepath.Join(dir, "patches/esc.patch") || esc.PatchLine != 1 ||
		!strings.Contains(err.Error(), `becomes "../../escaped2" with -p2`) {
		t.Fatalf("error = %v, want an *EscapeError for esc.patch:1 at -p2", err)
	}
	// The patch before it applied (the patch step discards the whole
	// tree on error); the refused one changed nothing.
	after, _ := readTree(t, tree)
	before["a.txt"] = "ONE\n"
	if !equalMaps(before, after) || len(rec.Patches) != 1 {
		t.Errorf("tree after the refusal = %q, want %q (records %d)", after, before, len(rec.Patches))
	}
}

// TestRootRefusesWriteThroughSymlink checks the last line of defence
// under the escape checks: the overlay writes through os.Root, which
// refuses a path through a symlink leading out of the tree and a name
// with "..", even when nothing before it looked.
func TestRootRefusesWriteThroughSymlink(t *testing.T) {
	for _, name := range []string{"escape/pwned", "d/s/../outside/pwned", "../outside/pwned"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tree := makeEscapeTree(t, dir)
			root, err := os.OpenRoot(tree)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			ov := newOverlay(root)
			ov.set(name, []byte("pwned\n"), 0o644)
			if err := ov.commit(); err == nil {
				t.Errorf("commit wrote %s", name)
			}
			if _, err := os.Lstat(filepath.Join(dir, "outside", "pwned")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("outside/pwned exists (%v)", err)
			}
		})
	}
}
