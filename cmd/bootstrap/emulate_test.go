package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/runner/provenance"
)

// testRootfs returns the busybox root file system of a Debian architecture
// made by scripts/testrootfs.sh (make deps runs it), or skips the test
// where it cannot exist: not root, or not made. In CI it must exist.
func testRootfs(t *testing.T, debarch string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("emulated steps need root (chroot, mounts)")
	}
	top := os.Getenv("BOOTSTRAP_TESTROOTFS")
	if top == "" {
		top = "/var/cache/bootstrap-testrootfs"
	}
	dir := filepath.Join(top, debarch)
	if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no test root file system %s: make deps (scripts/testrootfs.sh) makes it", dir)
		}
		t.Skipf("no test root file system %s: run scripts/testrootfs.sh", dir)
	}
	return dir
}

// leakedMounts lists mounts below dir in this (the host's) mount namespace.
func leakedMounts(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir) {
			out = append(out, f[1])
		}
	}
	return out
}

func TestEmulatedStepsRunOnTheTargetsUserland(t *testing.T) {
	for _, tc := range []struct {
		target, debarch, uname string
		machine                elf.Machine
	}{
		{"ppc64le", "ppc64el", "ppc64le", elf.EM_PPC64},
		{"arm64", "arm64", "aarch64", elf.EM_AARCH64},
		// A tree from Debian 13 (trixie), where riscv64 is a release
		// architecture: merged /usr, /bin a link (scripts/testrootfs.sh).
		{"riscv64", "riscv64", "riscv64", elf.EM_RISCV},
		// No emulator: this kernel runs i386 itself, and the steps run
		// under the 32-bit personality, so uname -m says i686.
		{"386", "i386", "i686", elf.EM_386},
	} {
		t.Run(tc.target, func(t *testing.T) {
			root := testRootfs(t, tc.debarch)
			dir := copyFixture(t, "emulate")
			work := filepath.Join(dir, "work dir") // a space: paths are quoted
			args := []string{"run", "--plain", "--emulate", "--rootfs", root, "--target", tc.target, "--workdir", work, "recipe.yaml"}
			t.Setenv("BOOTSTRAP_TEST_SLEEP", "0")
			r := bs(t, dir, args...)
			if r.code != 0 {
				t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			build := filepath.Join(work, "build", "probe")
			got, _ := os.ReadFile(filepath.Join(build, "uname.txt"))
			if strings.TrimSpace(string(got)) != tc.uname {
				t.Errorf("uname -m in the step: %q, want %q", got, tc.uname)
			}
			f, err := elf.Open(filepath.Join(build, "prog"))
			if err != nil {
				t.Fatalf("the step's output: %v", err)
			}
			if f.Machine != tc.machine {
				t.Errorf("the step's output is an ELF for %v, want %v", f.Machine, tc.machine)
			}
			f.Close()
			if m := leakedMounts(t, dir); len(m) > 0 {
				t.Errorf("mounts left on the host: %v", m)
			}
			// The tree's identity is an input of every run step: the
			// rerun does nothing, and explain names the executor.
			r = bs(t, dir, args...)
			if r.code != 0 || strings.Contains(r.stdout, " start ") {
				t.Errorf("rerun: exit %d, ran steps:\n%s", r.code, r.stdout)
			}
			r = bs(t, dir, "run", "--plain", "--dry-run", "--target", tc.target, "--workdir", work, "recipe.yaml")
			if r.code != 2 || !strings.Contains(r.stderr, "--emulate") {
				t.Errorf("without --emulate a foreign target must be refused with a hint naming --emulate: exit %d\n%s", r.code, r.stderr)
			}
		})
	}
}

// TestEmulatedStepKilled kills the whole run (SIGKILL) while an emulated
// step runs: nothing stays mounted, and the next run finishes.
func TestEmulatedStepKilled(t *testing.T) {
	root := testRootfs(t, "ppc64el")
	dir := copyFixture(t, "emulate")
	work := filepath.Join(dir, "work")
	args := []string{"run", "--plain", "--emulate", "--rootfs", root, "--target", "ppc64le", "--workdir", work, "recipe.yaml"}
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"), "BOOTSTRAP_TEST_SLEEP=60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(work, "build", "probe", "started.txt")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the slow step did not start within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The step's sleep dies with the run, not only at the next run.
	home := "HOME=" + filepath.Join(work, "home")
	for wait := 0; ; wait++ {
		left := processesWith(home)
		if len(left) == 0 {
			break
		}
		if wait == 50 {
			t.Errorf("processes of the step outlived the run: %v", left)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m := leakedMounts(t, dir); len(m) > 0 {
		t.Errorf("mounts left on the host after SIGKILL: %v", m)
	}
	t.Setenv("BOOTSTRAP_TEST_SLEEP", "0")
	r := bs(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("run after the kill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := started(r.stdout); strings.Join(got, " ") != "probe:slow" {
		t.Errorf("after the kill the run started %v, want only probe:slow", got)
	}
	if _, err := os.Stat(filepath.Join(work, "build", "probe", "finished.txt")); err != nil {
		t.Errorf("the step did not finish: %v", err)
	}
	if m := leakedMounts(t, dir); len(m) > 0 {
		t.Errorf("mounts left on the host: %v", m)
	}
}

// TestEmulatedWithoutHandler asks for a target no binfmt_misc handler is
// registered for here: the run stops before any step with the doctor's
// message and how to fix it.
func TestEmulatedWithoutHandler(t *testing.T) {
	root := testRootfs(t, "ppc64el")
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-s390x"); err == nil {
		t.Skip("a qemu-s390x handler is registered on this machine")
	}
	dir := copyFixture(t, "emulate")
	t.Setenv("BOOTSTRAP_TEST_SLEEP", "0")
	r := bs(t, dir, "run", "--plain", "--emulate", "--rootfs", root, "--target", "s390x", "--workdir", filepath.Join(dir, "work"), "recipe.yaml")
	if r.code != 2 || !strings.Contains(r.stdout, "qemu-s390x") || !strings.Contains(r.stderr, "doctor --install --emulate") {
		t.Errorf("exit %d, want 2 naming qemu-s390x and the fix\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "work", "state")); err == nil {
		t.Error("a step ran")
	}
}

// TestEmulatedPackageChange changes one package version of the tree:
// exactly the steps that run in it run again (not fetch or patch, which
// run in bootstrap), and explain names the package.
func TestEmulatedPackageChange(t *testing.T) {
	busybox := testRootfs(t, "ppc64el")
	dir := copyFixture(t, "emulate")
	root := filepath.Join(dir, "rootfs")
	if out, err := exec.Command("cp", "-a", busybox, root).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	status := filepath.Join(root, "var", "lib", "dpkg", "status")
	writeStatus := func(version string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(status), 0o755)
		data := "Package: busybox-static\nStatus: install ok installed\nArchitecture: ppc64el\nVersion: " + version + "\n\n" +
			"Package: removed-one\nStatus: deinstall ok config-files\nArchitecture: ppc64el\nVersion: 1\n\n"
		if err := os.WriteFile(status, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeStatus("1:1.35.0-4+b3")
	work := filepath.Join(dir, "work")
	args := []string{"run", "--plain", "--emulate", "--rootfs", root, "--target", "ppc64le", "--workdir", work, "recipe.yaml"}
	t.Setenv("BOOTSTRAP_TEST_SLEEP", "0")
	if r := bs(t, dir, args...); r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	writeStatus("1:1.35.0-4+b4")
	r := bs(t, dir, "explain", "--emulate", "--rootfs", root, "--target", "ppc64le", "--workdir", work, "recipe.yaml", "tree:list")
	if !strings.Contains(r.stdout, "busybox-static:ppc64el 1:1.35.0-4+b3 → 1:1.35.0-4+b4") {
		t.Errorf("explain does not name the package change:\n%s\n%s", r.stdout, r.stderr)
	}
	r = bs(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got, want := strings.Join(started(r.stdout), " "), "probe:slow probe:uname tree:list"; got != want {
		t.Errorf("after the package change the run started %q, want %q", got, want)
	}
	// The provenance record names the tree's packages the steps used.
	rec, err := provenance.ReadFile(filepath.Join(work, "provenance.json")) // the signed statement
	if err != nil || !strings.Contains(string(rec.Payload), "pkg:deb/debian/busybox-static@1:1.35.0-4+b4?arch=ppc64el") {
		t.Errorf("provenance.json does not list the tree's package (%v)", err)
	}
}

// processesWith lists the PIDs whose environment holds kv.
func processesWith(kv string) []string {
	environs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var out []string
	for _, e := range environs {
		data, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		for _, v := range strings.Split(string(data), "\x00") {
			if v == kv {
				out = append(out, filepath.Base(filepath.Dir(e)))
			}
		}
	}
	return out
}

// TestEmulatedFailureNamesTheEmulator fails a step in the ppc64el tree:
// the error names qemu, its version and its binfmt_misc handler, the
// attempt file records the emulator, and plan then says the failure may
// not be the build's (qemu has rejected valid Go; issue 24).
func TestEmulatedFailureNamesTheEmulator(t *testing.T) {
	root := testRootfs(t, "ppc64el")
	dir := t.TempDir()
	recipe := "name: emufail\ntargets: [ppc64le]\ncomponents:\n  - name: c\n    steps:\n      - name: fails\n        run: uname -m; exit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	flags := []string{"--emulate", "--rootfs", root, "--target", "ppc64le", "--workdir", work, "recipe.yaml"}
	r := bs(t, dir, append([]string{"run", "--plain"}, flags...)...)
	if r.code != 1 {
		t.Fatalf("run: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"step c:fails failed (exit 3)", "under emulation by qemu-ppc64le version ", "binfmt_misc handler /proc/sys/fs/binfmt_misc/qemu-ppc64le", "may not be the build's"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error does not say %q:\n%s", want, r.stderr)
		}
	}
	att, err := os.ReadFile(filepath.Join(work, "state", "c", "fails.attempt"))
	if err != nil || !strings.Contains(string(att), `"emulator": "qemu-ppc64le `) {
		t.Errorf("the attempt file does not name the emulator (%v):\n%s", err, att)
	}
	r = bs(t, dir, append([]string{"plan"}, flags...)...)
	if !strings.Contains(r.stdout, "emulated by qemu-ppc64le ") || !strings.Contains(r.stdout, "the failure may not be the build's") {
		t.Errorf("plan does not say the failure may be the emulator's:\n%s\n%s", r.stdout, r.stderr)
	}
	r = bs(t, dir, append([]string{"run", "--plain"}, flags...)...)
	if !strings.Contains(r.stdout, "c:fails: its last attempt failed under emulation by qemu-ppc64le ") {
		t.Errorf("the rerun does not say the last failure may be the emulator's:\n%s\n%s", r.stdout, r.stderr)
	}
}

// TestEmulatedCheck rebuilds a component in the ppc64el tree with run
// --check: the same bytes again, and the verdict names the emulator.
func TestEmulatedCheck(t *testing.T) {
	root := testRootfs(t, "ppc64el")
	dir := copyFixture(t, "emulate")
	work := filepath.Join(dir, "work")
	args := []string{"run", "--plain", "--emulate", "--rootfs", root, "--target", "ppc64le", "--workdir", work, "recipe.yaml"}
	t.Setenv("BOOTSTRAP_TEST_SLEEP", "0")
	if r := bs(t, dir, args...); r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r := bs(t, dir, append(args, "--check", "probe")...)
	if r.code != 0 || !strings.Contains(r.stdout, "check probe:slow: bit-identical (rebuilt probe:uname, probe:slow") {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	v, err := os.ReadFile(filepath.Join(work, "state", "probe", "slow.check"))
	if err != nil || !strings.Contains(string(v), `"emulator": "qemu-ppc64le `) {
		t.Errorf("the verdict does not name the emulator (%v):\n%s", err, v)
	}
	if m := leakedMounts(t, dir); len(m) > 0 {
		t.Errorf("mounts left on the host: %v", m)
	}
}
