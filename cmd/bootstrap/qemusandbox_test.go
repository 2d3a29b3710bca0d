package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ppc64leBinary is bootstrap built for ppc64le (static, as a porter
// sends it to a board), once per test run, beside the host's binary.
var ppc64leBinary = sync.OnceValues(func() (string, error) {
	out := filepath.Join(filepath.Dir(binary), "bootstrap-ppc64le")
	build := exec.Command("go", "build", "-o", out, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH=ppc64le")
	if msg, err := build.CombinedOutput(); err != nil {
		return "", &exec.Error{Name: "go build (GOARCH=ppc64le): " + strings.TrimSpace(string(msg)), Err: err}
	}
	return out, nil
})

// qemuPPC64LE returns bootstrap for ppc64le, which this machine runs
// under qemu-user through binfmt_misc, or skips the test when no
// handler is registered (scripts/emulation.sh registers it; in CI it
// must be).
func qemuPPC64LE(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-ppc64le")
	if err != nil || !strings.HasPrefix(string(data), "enabled") {
		if os.Getenv("CI") != "" {
			t.Fatalf("no enabled binfmt_misc handler qemu-ppc64le (%v): scripts/emulation.sh registers it", err)
		}
		t.Skip("no binfmt_misc handler for ppc64le: scripts/emulation.sh registers one")
	}
	bin, err := ppc64leBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// qemuSandboxRecipe probes its own sandbox and records what it found in
// facts.txt; a detached process carries QSB_MARKER so the test can look
// for it after the run.
const qemuSandboxRecipe = `name: qemu-sandbox
env:
  QSB_MARKER: ${{ env.QSB_MARKER }}
components:
  - name: probe
    steps:
      - name: confined
        run: |
          {
            echo "pid $$"
            echo "init $(tr '\0' ' ' < /proc/1/cmdline)"
            for ns in mnt pid uts ipc net; do echo "ns $(readlink /proc/self/ns/$ns)"; done
            echo "interfaces $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
            echo owned > ${{ env.OUTSIDE }}/x 2>/dev/null || echo "outside refused"
            echo owned > /bootstrap-qsb-probe 2>/dev/null || echo "root read-only"
            grep CapBnd /proc/self/status
          } > facts.txt
          setsid sleep 30 > /dev/null 2>&1 < /dev/null &
`

// TestSandboxUnderQemuUser runs a foreign (ppc64le) bootstrap through
// qemu-user, which refuses namespaces as clone flags, on a recipe whose
// step probes its sandbox: directly on this host, and chrooted into the
// ppc64el test tree, where the steps' shell is emulated too (a board
// that is an emulated root file system; a tree that is not a mount point
// is refused with the fix). The step must run confined —
// PID 1 of its own namespace, namespaces of its own, only loopback, no
// write outside its trees, no process left behind, no mount left on the
// host — and a second run must do nothing.
func TestSandboxUnderQemuUser(t *testing.T) {
	bin := qemuPPC64LE(t)
	if os.Geteuid() != 0 {
		// qemu-user makes no user namespace (it runs a thread of its
		// own), so only root gets a sandbox there; others a clear error.
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "r.yaml"), qemuSandboxRecipe)
		r := runResult(t, qemuRun(bin, dir, nil, "run", "--plain", "--workdir", filepath.Join(dir, "work"), "r.yaml"))
		if r.code != 1 || !strings.Contains(r.stderr, "runs under qemu-ppc64le") || !strings.Contains(r.stderr, "--no-sandbox") {
			t.Errorf("as another user than root: exit %d, want 1 naming qemu-ppc64le and --no-sandbox\n%s", r.code, r.stderr)
		}
		return
	}
	t.Run("host", func(t *testing.T) {
		dir := t.TempDir()
		outside := filepath.Join(dir, "outside")
		if err := os.Mkdir(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "r.yaml"), qemuSandboxRecipe)
		work := filepath.Join(dir, "work")
		marker := "QSB_MARKER=" + filepath.Base(dir)
		env := []string{marker, "OUTSIDE=" + outside}
		args := []string{"run", "--plain", "--workdir", work, "r.yaml"}
		checkQemuSandbox(t, func() result { return runResult(t, qemuRun(bin, dir, env, args...)) },
			filepath.Join(work, "build", "probe", "facts.txt"), filepath.Join(outside, "x"), "/bootstrap-qsb-probe", marker, dir)
	})
	t.Run("rootfs", func(t *testing.T) {
		tree := filepath.Join(t.TempDir(), "tree")
		if out, err := exec.Command("cp", "-a", testRootfs(t, "ppc64el"), tree).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		// What the probe needs of busybox, /mnt for the work dir's
		// fixed path, and bootstrap itself.
		for _, applet := range []string{"tr", "readlink", "tail", "cut", "setsid", "grep"} {
			if err := os.Symlink("busybox", filepath.Join(tree, "bin", applet)); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}
		for _, d := range []string{"mnt", "outside", "work"} {
			if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := exec.Command("cp", bin, filepath.Join(tree, "bootstrap")).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		writeFile(t, filepath.Join(tree, "work", "r.yaml"), qemuSandboxRecipe)
		marker := "QSB_MARKER=" + filepath.Base(filepath.Dir(tree))
		// As a board's tree is entered: its own mount point (an overlay
		// on the board; a bind here), /proc, then chroot.
		chroot := func(bind string) result {
			cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-euc",
				bind+`mount -t proc proc "$1/proc"; cd "$1"; shift; exec chroot . "$@"`,
				"sh", tree, "/bootstrap", "run", "--plain", "--workdir", "/work/w", "/work/r.yaml")
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/work", "XDG_CACHE_HOME=/work/.cache", "XDG_CONFIG_HOME=/work/.config",
				marker, "OUTSIDE=/outside"}
			return runResult(t, cmd)
		}
		// Chrooted into a plain directory, the sandbox cannot keep its
		// mounts from the host's: refused, with the fix.
		if r := chroot(""); r.code != 1 || !strings.Contains(r.stderr, "/ is not a mount point") || !strings.Contains(r.stderr, "mount --bind DIR DIR") {
			t.Errorf("chrooted into a plain directory: exit %d, want 1 saying / is not a mount point and how to make it one\n%s", r.code, r.stderr)
		}
		run := func() result { return chroot(`mount --bind "$1" "$1"; `) }
		checkQemuSandbox(t, run, filepath.Join(tree, "work", "w", "build", "probe", "facts.txt"),
			filepath.Join(tree, "outside", "x"), filepath.Join(tree, "bootstrap-qsb-probe"), marker, filepath.Dir(tree))
	})
}

// qemuRun is the foreign bootstrap run in dir with the test's own cache
// and keys.
func qemuRun(bin, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(dir, ".config")), env...)
	return cmd
}

// checkQemuSandbox runs the probe recipe twice and checks what the first
// run's step found (facts), that it wrote nothing at outside or root (its
// /bootstrap-qsb-probe as seen from here) and left no process with
// marker and no mount below dir, and that the second run ran nothing.
func checkQemuSandbox(t *testing.T, run func() result, facts, outside, root, marker, dir string) {
	t.Helper()
	r := run()
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(facts)
	if err != nil {
		t.Fatalf("the step's facts: %v", err)
	}
	got := string(data)
	for _, want := range []string{"pid 1\n", " -e -c ", "interfaces lo \n", "outside refused\n", "root read-only\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the step did not find %q:\n%s", want, got)
		}
	}
	if capSysAdmin(t, got) {
		t.Errorf("the step kept CAP_SYS_ADMIN in its bounding set:\n%s", got)
	}
	for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net"} {
		ours, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, "ns "+ns+":[") || strings.Contains(got, "ns "+ours+"\n") {
			t.Errorf("the step is not in a %s namespace of its own (the test's is %s):\n%s", ns, ours, got)
		}
	}
	for _, p := range []string{outside, root} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("the step wrote %s, outside its trees", p)
			os.Remove(p)
		}
	}
	if left := processesWith(marker); len(left) > 0 {
		t.Errorf("a process of the step outlived it: %v", left)
	}
	if m := leakedMounts(t, dir); len(m) > 0 {
		t.Errorf("mounts left on the host: %v", m)
	}
	r = run()
	if r.code != 0 || len(started(r.stdout)) != 0 {
		t.Errorf("second run: exit %d, started %v\n%s\n%s", r.code, started(r.stdout), r.stdout, r.stderr)
	}
}

// capSysAdmin reports whether the CapBnd line in facts has
// CAP_SYS_ADMIN (bit 21); a missing line fails the test.
func capSysAdmin(t *testing.T, facts string) bool {
	t.Helper()
	for _, line := range strings.Split(facts, "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bits, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("CapBnd %q: %v", v, err)
			}
			return bits&(1<<21) != 0
		}
	}
	t.Fatalf("the step did not report its CapBnd:\n%s", facts)
	return false
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
