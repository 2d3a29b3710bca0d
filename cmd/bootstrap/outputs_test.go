package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// outputsRecipe: lib writes into its own source tree while it builds (as
// go:make does in the Go tree) and installs a file and a tree, its
// outputs; lib:check fails until the test allows it, after writing into
// the source tree too; app uses lib's installed file.
const outputsRecipe = `name: outputs
vars:
  out: ${{ work }}/install/lib
components:
  - name: lib
    source:
      dir: libsrc
    steps:
      - name: build
        run: |
          echo built > ${{ src }}/built.stamp
          cp ${{ src }}/lib.txt lib.built
      - name: check
        run: |
          echo checked > ${{ src }}/checked.stamp
          test -e allow-check
      - name: install
        run: |
          rm -rf ${{ out }}
          mkdir -p ${{ out }}/share
          cp lib.built ${{ out }}/lib.txt
          cp lib.built ${{ out }}/share/data.txt
    outputs:
      - ${{ out }}/lib.txt
      - ${{ out }}/share
  - name: app
    needs: [lib]
    steps:
      - name: use
        run: cat ${{ out }}/lib.txt > app.txt
`

// TestOutputsHeldToTheirCheckpoint tampers with an installed output and
// with a patched source tree after their steps are done, and checks that
// plan and explain name the changed file, that run reruns exactly the
// step that made it and what follows, and that the rerun is then a no-op.
// A touched (not changed) file, a step that writes into its own source
// tree, and a failed step that left the tree half-written keep their
// upstream steps done.
func TestOutputsHeldToTheirCheckpoint(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "outputs.yaml"), outputsRecipe)
	write(filepath.Join(dir, "libsrc", "lib.txt"), "lib v1\n")
	work := hostWork(dir, "outputs")
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(work, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	run := func(what string, want ...string) {
		t.Helper()
		r := bs(t, dir, "run", "--plain", "outputs.yaml")
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", what, r.code, r.stdout, r.stderr)
		}
		if got := started(r.stdout); !equal(got, want) {
			t.Fatalf("%s: started %v, want %v\n%s", what, got, want, r.stdout)
		}
	}
	plan := func(what string, lines ...string) {
		t.Helper()
		r := bs(t, dir, "plan", "outputs.yaml")
		for _, l := range lines {
			if !regexp.MustCompile(l).MatchString(r.stdout) {
				t.Errorf("%s: plan does not match %q:\n%s%s", what, l, r.stdout, r.stderr)
			}
		}
	}

	// A step that fails after writing into its component's source tree:
	// the tree is that step's work in progress, the patch stays done.
	r := bs(t, dir, "run", "--plain", "outputs.yaml")
	if r.code != 1 {
		t.Fatalf("first run: exit %d, want 1 (lib:check fails)\n%s%s", r.code, r.stdout, r.stderr)
	}
	plan("after a failed step", `lib:patch\s+done`, `lib:build\s+done`, `lib:check\s+failed`)
	write(filepath.Join(work, "build", "lib", "allow-check"), "")
	run("after allowing lib:check", "app:use", "lib:check", "lib:install")
	run("no-op after a build that writes into its own source tree")

	// A touched file is hashed again and found unchanged: still done.
	later := time.Now().Add(time.Hour)
	for _, p := range []string{"install/lib/share/data.txt", "src/lib/lib.txt"} {
		if err := os.Chtimes(filepath.Join(work, p), later, later); err != nil {
			t.Fatal(err)
		}
	}
	run("no-op after touching an output and a source file")

	// Installed outputs changed after their checkpoint: the step that
	// installs them and what follows rerun.
	write(filepath.Join(work, "install/lib/share/data.txt"), "lib v1\ntampered\n")
	write(filepath.Join(work, "install/lib/lib.txt"), "lib v0\n")
	plan("after changing the outputs",
		`lib:patch\s+done`, `lib:check\s+done`,
		`lib:install\s+stale\s+.*output install/lib/lib.txt changed since its checkpoint; output install/lib/share changed since its checkpoint: install/lib/share/data.txt changed`,
		`app:use\s+stale\s+.*upstream lib:install is stale`)
	r = bs(t, dir, "explain", "outputs.yaml", "lib:install")
	if r.code != 0 || !strings.Contains(r.stdout, "lib:install: stale\n") ||
		!strings.Contains(r.stdout, "  - output install/lib/share changed since its checkpoint: install/lib/share/data.txt changed\n") {
		t.Errorf("explain lib:install after changing its output: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	run("after changing the outputs", "app:use", "lib:install")
	if got := read("install/lib/lib.txt") + read("install/lib/share/data.txt"); got != "lib v1\nlib v1\n" {
		t.Errorf("after the rerun the outputs hold %q", got)
	}
	run("no-op after restoring the outputs")

	// The patched source tree changed after the component's last step:
	// the patch step and everything after it rerun, from a fresh tree.
	write(filepath.Join(work, "src/lib/lib.txt"), "lib v2\n")
	plan("after changing the source tree",
		`lib:patch\s+stale\s+.*source tree src/lib \(as lib:install left it\) changed since its checkpoint: src/lib/lib.txt changed`,
		`lib:build\s+stale\s+.*upstream lib:patch is stale`)
	r = bs(t, dir, "explain", "outputs.yaml", "lib:patch")
	if r.code != 0 || !strings.Contains(r.stdout, "lib:patch: stale\n") ||
		!strings.Contains(r.stdout, "src/lib/lib.txt changed") {
		t.Errorf("explain lib:patch after changing the source tree: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	run("after changing the source tree", "app:use", "lib:build", "lib:check", "lib:install", "lib:patch")
	if got := read("src/lib/lib.txt") + read("install/lib/lib.txt") + read("build/app/app.txt"); got != strings.Repeat("lib v1\n", 3) {
		t.Errorf("after the rerun the files hold %q, want the recipe's", got)
	}
	run("no-op after the rerun")
}
