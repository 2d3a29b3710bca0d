package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// remountHelperEnv names the directory in which this test binary,
// started in a mount namespace of its own, runs remountHelper.
const remountHelperEnv = "BOOTSTRAP_TEST_REMOUNT_DIR"

// TestRemountTree checks the fallback for mount_setattr (which qemu-user
// does not implement) on real mounts, in a mount namespace of its own:
// a tree of tmpfs mounts, one of them covered by another, goes
// read-only and back, each keeping its nosuid and nodev.
func TestRemountTree(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), remountHelperEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if uid, gid := os.Geteuid(), os.Getegid(); uid != 0 {
		cmd.SysProcAttr.Unshareflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// remountHelper mounts, in dir: a (nosuid, nodev) with b below it, and
// c with d below it, then a fresh tmpfs over c, which covers d — as a
// new proc over the host's leaves the old one's binfmt_misc listed in
// mountinfo, unreachable. remountTree must make every reachable one
// read-only, skip d, keep the flags, and undo it.
func remountHelper(dir string) error {
	a := filepath.Join(dir, "a")
	mounts := []struct {
		at    string
		flags uintptr
	}{
		{a, unix.MS_NOSUID | unix.MS_NODEV},
		{filepath.Join(a, "b"), unix.MS_NOSUID},
		{filepath.Join(a, "c"), 0},
		{filepath.Join(a, "c", "d"), 0},
		{filepath.Join(a, "c"), 0}, // covers c, and with it d
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.at, 0o755); err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", m.at, "tmpfs", m.flags, "size=64k"); err != nil {
			return fmt.Errorf("mount %s: %w", m.at, err)
		}
	}
	writable := func(p string) error {
		f := filepath.Join(p, "probe")
		err := os.WriteFile(f, nil, 0o644)
		os.Remove(f)
		return err
	}
	if err := remountTree(a, true); err != nil {
		return fmt.Errorf("read-only: %w", err)
	}
	for _, p := range []string{a, filepath.Join(a, "b"), filepath.Join(a, "c")} {
		if err := writable(p); !errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("%s after remountTree(ro): write gave %v, want EROFS", p, err)
		}
	}
	for _, m := range mounts[:2] {
		var st unix.Statfs_t
		if err := unix.Statfs(m.at, &st); err != nil {
			return err
		}
		if uintptr(st.Flags)&m.flags != m.flags {
			return fmt.Errorf("%s lost flags: %#x, want %#x kept", m.at, st.Flags, m.flags)
		}
	}
	if err := remountTree(a, false); err != nil {
		return fmt.Errorf("writable: %w", err)
	}
	for _, p := range []string{a, filepath.Join(a, "b"), filepath.Join(a, "c")} {
		if err := writable(p); err != nil {
			return fmt.Errorf("%s after remountTree(rw): %w", p, err)
		}
	}
	return nil
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/work`:            "/mnt/work",
		`/tmp/work\040dir`:     "/tmp/work dir",
		`/a\011b\012c\134d`:    "/a\tb\nc\\d",
		`/trailing\04`:         `/trailing\04`,
		`/not\x41octal\999end`: `/not\x41octal\999end`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
