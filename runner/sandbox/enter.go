package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// perLinux32 is PER_LINUX32 from <linux/personality.h>.
const perLinux32 = 0x0008

// Enter sets up the sandbox described in the environment and executes
// the step's command in it, replacing this process; it returns only on
// failure, with an error naming what could not be set up. The caller
// started this process in the namespaces of SysProcAttr: created in them
// (clone flags), it is PID 1; given them as unshare flags (Fallback:
// under qemu-user), it is not, and first makes the PID namespace with
// itself again as its init (see unshare.go).
func Enter() error {
	if os.Getpid() != 1 {
		return setupError(pidNamespaceInit())
	}
	// A new mount namespace copies the host's mounts with their
	// propagation: below a shared mount (systemd makes / shared) every
	// mount made here would appear on the host, and stay there. Private
	// first, so nothing done here is seen by, or left behind in, the
	// host's namespace.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		if note := rootNote(); note != "" {
			return setupError(fmt.Errorf("make the step's mounts private: %w (%s)", err, note))
		}
		return setupError(fmt.Errorf("make the step's mounts private: %w", err))
	}
	var spec Spec
	if err := json.Unmarshal([]byte(os.Getenv(specEnv)), &spec); err != nil {
		return fmt.Errorf("bad %s: %w", specEnv, err)
	}
	os.Unsetenv(specEnv)
	if len(spec.Argv) == 0 {
		return errors.New("sandbox: no command to run")
	}
	// Whatever the caller's umask, a step creates files as a build on a
	// clean machine would.
	syscall.Umask(0o022)
	confine := spec.Confine && !spec.Privileged
	if confine && !spec.Network {
		if err := loopbackUp(); err != nil {
			return setupError(err)
		}
	}
	if err := assemble(spec, confine); err != nil {
		return setupError(err)
	}
	if spec.Mount != "" {
		if err := syscall.Chroot(spec.Mount); err != nil {
			return fmt.Errorf("chroot %s: %w", spec.Mount, err)
		}
	}
	if err := os.Chdir(spec.Dir); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if confine && os.Geteuid() == 0 && !inUserNamespace() {
		if err := dropCapabilities(); err != nil {
			return setupError(err)
		}
	}
	if spec.Linux32 {
		// Inherited by everything the command starts. Build systems ask
		// uname -m for the host: Go's cmd/dist takes x86_64 for amd64 and
		// builds a 64-bit toolchain in an i386 tree.
		if _, _, e := syscall.RawSyscall(syscall.SYS_PERSONALITY, perLinux32, 0, 0); e != 0 {
			return fmt.Errorf("set the 32-bit personality (linux32): %w", e)
		}
	}
	err := syscall.Exec(spec.Argv[0], spec.Argv, os.Environ())
	if spec.Mount != "" && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOEXEC)) {
		return fmt.Errorf("exec %s inside the root file system: %w (is %s in the tree, and is a binfmt_misc handler for its architecture registered with the F flag? `bootstrap doctor --emulate` checks)", spec.Argv[0], err, spec.Argv[0])
	}
	return fmt.Errorf("exec %s in the sandbox: %w", spec.Argv[0], err)
}

// setupError is an error setting the sandbox up, with how to get past
// it (and the emulator bootstrap runs under, if any).
func setupError(err error) error {
	return fmt.Errorf("sandbox: %w (%s)", err, emulatorNote())
}

// assemble builds the step's view of the file system. The visible trees
// are cloned first (open_tree), while every host path is still reachable;
// then what must vanish is covered, the root made read-only, and the
// clones attached on top, writable or read-only.
func assemble(spec Spec, confine bool) error {
	root := spec.Mount
	if spec.Mount != "" {
		if err := mountRoot(spec); err != nil {
			return err
		}
	}
	binds := append([]Bind(nil), spec.Binds...)
	for i := range binds {
		if binds[i].Dst == "" {
			binds[i].Dst = binds[i].Src
		}
	}
	// A parent before what is mounted over it.
	sort.SliceStable(binds, func(i, j int) bool { return depth(binds[i].Dst) < depth(binds[j].Dst) })
	fds := make([]int, len(binds))
	for i, b := range binds {
		fd, err := unix.OpenTree(unix.AT_FDCWD, b.Src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("clone %s: %w (needs Linux 5.2 or later)", b.Src, err)
		}
		fds[i] = fd
	}
	var devs map[string]int
	if confine {
		var err error
		if devs, err = cloneDevices(); err != nil {
			return err
		}
		for _, h := range spec.Hide {
			if err := syscall.Mount("tmpfs", h, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755,size=64k"); err != nil && !errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("hide %s: %w", h, err)
			}
		}
	}
	if spec.WorkRoot != "" {
		if err := coverParent(root, spec.WorkRoot); err != nil {
			return err
		}
	}
	for _, b := range binds { // mount points, while the tree is writable
		_ = mountPoint(filepath.Join(root, b.Dst), b.Src)
	}
	if confine {
		if err := setAttr(orSlash(root), true); err != nil {
			return fmt.Errorf("make the file system read-only: %w", err)
		}
	}
	for i, b := range binds {
		at := filepath.Join(orSlash(root), b.Dst)
		if err := mountPoint(at, b.Src); err != nil {
			return fmt.Errorf("mount point %s: %w", at, err)
		}
		if err := unix.MoveMount(fds[i], "", unix.AT_FDCWD, at, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("mount %s on %s: %w", b.Src, at, err)
		}
		unix.Close(fds[i])
		if b.RO {
			if err := setAttr(at, true); err != nil {
				return fmt.Errorf("make %s read-only: %w", at, err)
			}
		}
	}
	if err := mountProc(filepath.Join(orSlash(root), "proc"), confine); err != nil {
		return err
	}
	if confine {
		return minimalDev(filepath.Join(orSlash(root), "dev"), devs)
	}
	return nil
}

// coverParent mounts a small empty tmpfs on the parent of the work dir's
// fixed path (inside root), in which the mount point is then made: the
// host's (or the root file system's) own tree gets no directory it did
// not have. On the host the parent must exist (/mnt does on every Debian
// system); a root file system without it gets it in its overlay layer,
// which is bootstrap's.
func coverParent(root, workRoot string) error {
	parent := filepath.Join(orSlash(root), filepath.Dir(workRoot))
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		if root == "" {
			return fmt.Errorf("the work dir's fixed path %s needs the directory %s, which this host lacks (create it, or run with --no-sandbox)", workRoot, parent)
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("the work dir's fixed path %s needs the directory %s: %w", workRoot, parent, err)
		}
	}
	if err := syscall.Mount("tmpfs", parent, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("mount a tmpfs on %s for the work dir's fixed path %s: %w", parent, workRoot, err)
	}
	return nil
}

// mountRoot mounts the root file system at spec.Mount: an overlay whose
// writable layer lives in the work dir, or the tree itself.
func mountRoot(spec Spec) error {
	if spec.Upper == "" {
		if err := syscall.Mount(spec.Lower, spec.Mount, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s to %s: %w", spec.Lower, spec.Mount, err)
		}
		return nil
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", escapeOverlay(spec.Lower), escapeOverlay(spec.Upper), escapeOverlay(spec.Work))
	if err := syscall.Mount("overlay", spec.Mount, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount the root file system %s as an overlay on %s: %w (needs root and a kernel with overlayfs)", spec.Lower, spec.Mount, err)
	}
	return nil
}

// mountProc mounts a proc of the step's own PID namespace (this process is
// its init). Confined, /proc/sys and /proc/sysrq-trigger are read-only: a
// new proc still offers the host kernel's settings.
func mountProc(proc string, confine bool) error {
	if err := os.MkdirAll(proc, 0o755); err != nil && !errors.Is(err, syscall.EROFS) {
		return err
	}
	if err := syscall.Mount("proc", proc, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount proc on %s: %w", proc, err)
	}
	if !confine {
		return nil
	}
	for _, p := range []string{"sys", "sysrq-trigger"} {
		p = filepath.Join(proc, p)
		if _, err := os.Lstat(p); err != nil {
			continue // a kernel without it
		}
		if err := syscall.Mount(p, p, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
		if err := setAttr(p, true); err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
	}
	return nil
}

// devices are the nodes a minimal /dev offers, bound from the host's.
func devices() []string { return []string{"null", "zero", "full", "random", "urandom", "tty"} }

// cloneDevices clones the host's device nodes before /dev is covered.
func cloneDevices() (map[string]int, error) {
	fds := map[string]int{}
	for _, d := range devices() {
		fd, err := unix.OpenTree(unix.AT_FDCWD, "/dev/"+d, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("clone /dev/%s: %w", d, err)
		}
		fds[d] = fd
	}
	return fds, nil
}

// minimalDev mounts a /dev of a few nodes, its own pseudo-terminals and
// shared memory.
func minimalDev(dev string, fds map[string]int) error {
	if err := syscall.Mount("tmpfs", dev, "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range devices() {
		at := filepath.Join(dev, d)
		if err := os.WriteFile(at, nil, 0o644); err != nil {
			return err
		}
		if err := unix.MoveMount(fds[d], "", unix.AT_FDCWD, at, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("mount /dev/%s: %w", d, err)
		}
		unix.Close(fds[d])
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := syscall.Mount("devpts", filepath.Join(dev, "pts"), "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	if err := syscall.Mount("tmpfs", filepath.Join(dev, "shm"), "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	links := map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, to := range links {
		if err := os.Symlink(to, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// mountPoint makes at exist as what src is: a directory, or a file.
func mountPoint(at, src string) error {
	if _, err := os.Lstat(at); err == nil {
		return nil
	}
	if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
		if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
			return err
		}
		return os.WriteFile(at, nil, 0o644)
	}
	return os.MkdirAll(at, 0o755)
}

// loopbackUp brings up lo in the new network namespace: a step may run
// a test server on 127.0.0.1, but reaches nothing else.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	return nil
}

// dropped are the capabilities a confined root step loses: with them it
// could undo its confinement (mount, umount), reach the hardware or the
// host kernel (modules, raw I/O, device nodes, the clock, reboot), or open
// files by handle outside its view (CAP_DAC_READ_SEARCH's
// open_by_handle_at).
func dropped() []uintptr {
	return []uintptr{
		unix.CAP_DAC_READ_SEARCH, unix.CAP_LINUX_IMMUTABLE, unix.CAP_NET_ADMIN, unix.CAP_SYS_MODULE,
		unix.CAP_SYS_RAWIO, unix.CAP_SYS_PACCT, unix.CAP_SYS_ADMIN, unix.CAP_SYS_BOOT, unix.CAP_SYS_TIME,
		unix.CAP_MKNOD, unix.CAP_AUDIT_CONTROL, unix.CAP_MAC_OVERRIDE, unix.CAP_MAC_ADMIN, unix.CAP_SYSLOG,
		unix.CAP_WAKE_ALARM, unix.CAP_BLOCK_SUSPEND, unix.CAP_PERFMON, unix.CAP_BPF, unix.CAP_CHECKPOINT_RESTORE,
	}
}

// dropCapabilities removes them from the bounding set, so that the
// step's shell, executed next as root, does not get them.
func dropCapabilities() error {
	for _, c := range dropped() {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return nil
}

// inUserNamespace reports whether this process runs in a user namespace
// other than the first (its uid_map is not the identity of all ids).
func inUserNamespace() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

func orSlash(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// escapeOverlay escapes the characters overlayfs's option parser treats
// specially in a path.
func escapeOverlay(p string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(p)
}
