package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// EnterArg is the hidden first argument with which bootstrap re-executes
// itself to enter a root file system (see Enter).
const EnterArg = "__enter-rootfs"

// perLinux32 is PER_LINUX32 from <linux/personality.h>.
const perLinux32 = 0x0008

// enterEnv carries the EnterSpec, as JSON, to the re-executed process; it
// is removed before the command runs.
const enterEnv = "BOOTSTRAP_ENTER_SPEC"

// EnterSpec says how to enter a tree and what to run there.
type EnterSpec struct {
	// Lower is the tree; Upper and Work the overlay's writable layer and
	// its scratch dir (both empty: Lower is bind-mounted writable).
	Lower, Upper, Work string
	// Mount is where the tree is assembled before chroot.
	Mount string
	// Binds are host directories mounted at the same path inside.
	Binds []string
	// Dir is the working directory inside.
	Dir string
	// Argv is the command; Argv[0] is an absolute path inside the tree.
	Argv []string
	// Linux32 runs the command under the 32-bit personality (linux32), so
	// that uname -m names the 32-bit userland, not the 64-bit kernel.
	Linux32 bool
}

// IsEnter reports whether this process was started to enter a tree, so that
// main (or a test binary's TestMain) calls Enter before anything else.
func IsEnter() bool { return len(os.Args) > 1 && os.Args[1] == EnterArg }

// Enter assembles the tree named by the spec in the environment and
// executes the command in it, replacing this process. It returns only on
// failure. The caller started this process in a new mount namespace
// (execstep.Command.Unshare), where Go has already made every mount
// private, so nothing done here is seen by, or left behind in, the host's
// namespace.
func Enter() error {
	var spec EnterSpec
	if err := json.Unmarshal([]byte(os.Getenv(enterEnv)), &spec); err != nil {
		return fmt.Errorf("bad %s: %w", enterEnv, err)
	}
	os.Unsetenv(enterEnv)
	if len(spec.Argv) == 0 {
		return errors.New("no command to run")
	}
	if err := assemble(spec); err != nil {
		return err
	}
	if err := syscall.Chroot(spec.Mount); err != nil {
		return fmt.Errorf("chroot %s: %w", spec.Mount, err)
	}
	if err := os.Chdir(spec.Dir); err != nil {
		return fmt.Errorf("inside the root file system: %w", err)
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
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOEXEC) {
		return fmt.Errorf("exec %s inside the root file system: %w (is %s in the tree, and is a binfmt_misc handler for its architecture registered with the F flag? `bootstrap doctor --emulate` checks)", spec.Argv[0], err, spec.Argv[0])
	}
	return fmt.Errorf("exec %s inside the root file system: %w", spec.Argv[0], err)
}

// assemble mounts the tree and everything bound into it at spec.Mount.
func assemble(spec EnterSpec) error {
	if spec.Upper != "" {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", escapeOverlay(spec.Lower), escapeOverlay(spec.Upper), escapeOverlay(spec.Work))
		if err := syscall.Mount("overlay", spec.Mount, "overlay", 0, opts); err != nil {
			return fmt.Errorf("mount the root file system %s as an overlay on %s: %w (needs root and a kernel with overlayfs)", spec.Lower, spec.Mount, err)
		}
	} else if err := bind(spec.Lower, spec.Mount); err != nil {
		return err
	}
	// A proc of the step's own PID namespace (this process is its init),
	// then the kernel's other file systems and the host directories. /dev
	// brings /dev/pts and /dev/shm; /sys brings the cgroup mounts below
	// it, which a container engine in the tree needs.
	proc := filepath.Join(spec.Mount, "proc")
	if err := os.MkdirAll(proc, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("proc", proc, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount proc in the root file system: %w", err)
	}
	for _, d := range append([]string{"/sys", "/dev"}, spec.Binds...) {
		inside := filepath.Join(spec.Mount, d)
		if err := os.MkdirAll(inside, 0o755); err != nil {
			return fmt.Errorf("make %s inside the root file system: %w", d, err)
		}
		if err := bind(d, inside); err != nil {
			return err
		}
	}
	return nil
}

func bind(from, to string) error {
	if err := syscall.Mount(from, to, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s to %s: %w", from, to, err)
	}
	return nil
}

// escapeOverlay escapes the characters overlayfs's option parser treats
// specially in a path.
func escapeOverlay(p string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(p)
}
