// Package sandbox confines a run step: bootstrap re-executes itself in new
// mount, network, PID, IPC and UTS namespaces (and a user namespace when
// it is not root), assembles what the step may see there, and then
// executes the step's shell, which is the PID namespace's init. Under
// qemu-user, which refuses namespaces as clone flags, it enters them
// with unshare(2) instead (unshare.go).
//
// Decided here, in one place:
//   - where: the work dir's trees appear at one fixed path, WorkRoot,
//     wherever the work dir is, so that what a step runs (and its
//     signature) names no machine's layout;
//   - writable: the component's own source and build trees, the shared
//     install prefix (<work>/install, which every real recipe installs
//     into), a private /tmp and HOME;
//   - read-only: everything else of the host (or of the root file system
//     under emulation), the trees and declared outputs of the components
//     it needs (mounted read-only over the writable prefix), /sys;
//   - invisible: the work dir at its real path and the rest of it
//     (state/, logs/, other components), the cache, the caller's home,
//     the host's /mnt (covered to hold WorkRoot);
//   - its own /proc (with /proc/sys read-only), a minimal /dev, no network
//     but loopback, umask 022;
//   - when the shell exits, the kernel kills every process left in the
//     PID namespace, detached ones included, and the mounts go with them.
//
// Why bootstrap's own code and not bubblewrap: boards get one static
// bootstrap binary and often lack bwrap; the chroot executor already
// re-executes bootstrap to enter a root file system, so both executors
// share one mechanism and one description of what a step sees.
//
// Running as root (what the chroot executor needs anyway), no user
// namespace is made: the work dir's files are root's, and a step mapped
// to an unprivileged id outside could not write its own trees. Root is
// confined instead by the other namespaces, read-only mounts and a
// capability bounding set without CAP_SYS_ADMIN (no mount, no umount),
// CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_MKNOD, CAP_DAC_READ_SEARCH and
// friends. Run by another user, the step is root in a user namespace
// mapped to that user.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Version names the sandbox's rules; it is the value of every sandboxed
// run step's "sandbox" signature input, so changing the rules (or turning
// the sandbox on or off) reruns each step once. v2: the work dir is seen
// at WorkRoot.
const Version = "v2"

// WorkRoot is the one fixed path at which every sandboxed run step sees
// the work dir, wherever it lives on the machine (as Nix fixes
// /nix/store): ${{ work }} and every path derived from it expand below
// it, so a step's signature, and the paths a build embeds in what it
// makes (Go records its GOROOT), are the same in any work dir on any
// machine. Its parent, /mnt, exists on every Debian system (base-files)
// and in its root file systems, and is by the FHS the administrator's
// place for temporary mounts, which no build reads: the sandbox covers
// it with a small empty tmpfs of its own and makes the mount point
// there, so nothing is created on the host's file system (see
// docs/sandbox.md).
const WorkRoot = "/mnt/bootstrap"

// Arg is the hidden first argument with which bootstrap re-executes itself
// to set up a sandbox (see Enter).
const Arg = "__sandbox"

// specEnv carries the Spec, as JSON, to the re-executed process; it is
// removed before the step's command runs.
const specEnv = "BOOTSTRAP_SANDBOX_SPEC"

// Bind is a host path made visible at Dst (the same path when empty).
type Bind struct {
	Src, Dst string
	// RO mounts it read-only.
	RO bool `json:",omitempty"`
}

// Spec says what one step sees and what it runs.
type Spec struct {
	// Lower, Upper and Work make the root file system an overlay at
	// Mount (the chroot executor); all empty on the host, where the
	// host's own tree is the root.
	Lower, Upper, Work, Mount string `json:",omitempty"`
	// Linux32 runs the command under the 32-bit personality.
	Linux32 bool `json:",omitempty"`
	// Confine applies the rules in the package comment; false gives only
	// what Privileged steps get.
	Confine bool `json:",omitempty"`
	// Privileged: real root and the host's mounts, devices and network;
	// only a PID namespace (nothing outlives the step) with its /proc,
	// and the private /tmp and HOME binds.
	Privileged bool `json:",omitempty"`
	// Network keeps the host's network (no network namespace).
	Network bool `json:",omitempty"`
	// Binds are the visible host paths, in the order given (a parent
	// before what is mounted over it).
	Binds []Bind
	// Hide are host directories covered by an empty read-only tmpfs.
	Hide []string `json:",omitempty"`
	// WorkRoot, when set, is where binds put the work dir (WorkRoot):
	// its parent is covered by a fresh tmpfs that holds the mount point.
	WorkRoot string `json:",omitempty"`
	// Dir is the working directory inside; Argv the command.
	Dir  string
	Argv []string
}

// IsEnter reports whether this process was started to set up a sandbox,
// so that main (or a test binary's TestMain) calls Enter first.
func IsEnter() bool { return len(os.Args) > 1 && os.Args[1] == Arg }

// Wrap returns the command line and environment that run spec through
// self (the bootstrap binary; "" means /proc/self/exe).
func Wrap(self string, spec Spec, env []string) ([]string, []string, error) {
	if self == "" {
		self = "/proc/self/exe"
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, nil, err
	}
	env = append(append([]string(nil), env...), specEnv+"="+string(data))
	return []string{self, Arg}, env, nil
}

// Namespaces are the clone flags for spec's process: it is created in
// them, so it is the new PID namespace's init (or, should the start
// fail, it is given them as unshare flags: Fallback).
func Namespaces(spec Spec) uintptr {
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID)
	if spec.Privileged || !spec.Confine {
		return flags
	}
	flags |= syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
	if !spec.Network {
		flags |= syscall.CLONE_NEWNET
	}
	return flags
}

// SysProcAttr completes attr for spec: the namespaces, and when bootstrap
// is not root a user namespace in which the step is root, mapped to the
// caller.
func SysProcAttr(attr *syscall.SysProcAttr, spec Spec) {
	attr.Cloneflags |= Namespaces(spec)
	if uid, gid := os.Geteuid(), os.Getegid(); uid != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
}

// StartError explains a sandbox the kernel (or the emulator bootstrap
// runs under) refused to create and how to get past it: it wraps the
// error of starting the process.
func StartError(err error) error {
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EACCES) {
		return err
	}
	if note := rootNote(); note != "" && errors.Is(err, syscall.EINVAL) {
		// Go makes a new mount namespace's mounts private (with unshare
		// flags, as under qemu-user), which takes a root that is a mount
		// point.
		return fmt.Errorf("%w: the step's sandbox could not be made: %s; or run with --no-sandbox, which runs steps unconfined (recorded in the provenance; every step reruns)", err, note)
	}
	if emu := emulator(); emu != "" {
		return emulatedStartError(err, emu, os.Geteuid() == 0)
	}
	return fmt.Errorf("%w: the kernel refused the step's sandbox namespaces (mount, network, PID, IPC, UTS%s). "+
		"As root this needs CAP_SYS_ADMIN; as another user, user namespaces: check sysctl user.max_user_namespaces (> 0), "+
		"kernel.unprivileged_userns_clone (= 1, Debian kernels) and kernel.apparmor_restrict_unprivileged_userns (= 0, Ubuntu). "+
		"--no-sandbox runs steps unconfined (recorded in the provenance; every step reruns)", err, userNote())
}

// emulatedStartError is StartError when bootstrap runs under emu.
// qemu-user makes no user namespace, by any system call:
// unshare(CLONE_NEWUSER) needs a process of one thread, and qemu always
// runs one of its own beside the program's. As root the sandbox needs
// none.
func emulatedStartError(err error, emu string, root bool) error {
	if !root {
		return fmt.Errorf("%w: bootstrap runs under %s, which cannot make the user namespace a sandbox needs when bootstrap is not root "+
			"(qemu-user runs a thread of its own, and unshare(CLONE_NEWUSER) needs a process of one). "+
			"Run bootstrap as root, or with --no-sandbox, which runs steps unconfined (recorded in the provenance; every step reruns)", err, emu)
	}
	return fmt.Errorf("%w: bootstrap runs under %s, which refused the step's sandbox namespaces (mount, network, PID, IPC, UTS) "+
		"both as clone flags and by unshare(2). "+
		"--no-sandbox runs steps unconfined (recorded in the provenance; every step reruns)", err, emu)
}

func userNote() string {
	if os.Geteuid() != 0 {
		return ", user"
	}
	return ""
}

// Step is what the runner knows of one run step's view: the work dir, the
// trees it owns and those it may only read, its private /tmp and HOME, and
// the recipe's exceptions.
type Step struct {
	// WorkDir is hidden but for what follows.
	WorkDir string
	// Root is where the step sees WorkDir (WorkRoot); "" shows every
	// tree at its real path.
	Root string
	// Own are writable: the component's source and build trees and the
	// shared install prefix.
	Own []string
	// Sees are read-only: what the component needs (plan.Step.Sees).
	Sees []string
	// Tmp and Home are fresh host dirs for this step alone, removed after
	// it; they appear at /tmp and TmpDir, and at HomeDir.
	Tmp, Home       string
	TmpDir, HomeDir string
	// Network and Privileged are the recipe's exceptions.
	Network, Privileged bool
	// Scratch maps an Own path to the directory mounted there instead:
	// `run --check` reruns a component at its real paths (the bytes it
	// builds may name them) into scratch trees, leaving the real ones as
	// their checkpoints recorded them.
	Scratch map[string]string
}

// Binds lists what s makes visible, writable trees before the read-only
// ones mounted over them. A path that does not exist yet (an output not
// built, a tree never made) is left out.
func (s Step) Binds() []Bind {
	var out []Bind
	add := func(b Bind) {
		if _, err := os.Lstat(b.Src); err == nil {
			out = append(out, b)
		}
	}
	add(Bind{Src: s.Tmp, Dst: "/tmp"})
	if s.TmpDir != "" && s.TmpDir != "/tmp" {
		add(Bind{Src: s.Tmp, Dst: s.TmpDir})
	}
	if s.HomeDir != "" {
		add(Bind{Src: s.Home, Dst: s.HomeDir})
	}
	if s.Privileged {
		// It sees the whole host, the work dir included, which the
		// private /tmp would cover when it lives below /tmp; and the
		// work dir at the fixed path, which its commands name.
		add(Bind{Src: s.WorkDir})
		if s.Root != "" {
			add(Bind{Src: s.WorkDir, Dst: s.Root})
		}
		return out
	}
	for _, p := range s.Own {
		if src := s.Scratch[p]; src != "" {
			add(Bind{Src: src, Dst: s.inside(p)})
			continue
		}
		add(Bind{Src: p, Dst: s.inside(p)})
	}
	for _, p := range s.Sees {
		add(Bind{Src: p, Dst: s.inside(p), RO: true})
	}
	return out
}

// inside is where the step sees p, a path below WorkDir: below Root.
func (s Step) inside(p string) string {
	p = filepath.Clean(p)
	if s.Root == "" {
		return p
	}
	w := filepath.Clean(s.WorkDir)
	if p == w {
		return s.Root
	}
	if rest, ok := strings.CutPrefix(p, w+"/"); ok {
		return filepath.Join(s.Root, rest)
	}
	return p
}
