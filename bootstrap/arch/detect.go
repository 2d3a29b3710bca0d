package arch

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Probes are the sources host detection reads. DetectHost uses RealProbes;
// tests inject their own to play any machine.
type Probes struct {
	// Uname returns the machine field of uname(2), what `uname -m` prints
	// (already altered by a linux32 personality).
	Uname func() (string, error)
	// Linux32 reports whether the process runs with the PER_LINUX32
	// personality (setarch linux32), under which a 64-bit kernel reports a
	// 32-bit machine name (armv8l, i686).
	Linux32 func() (bool, error)
	// FS is the root file system; detection reads proc/cpuinfo and the ELF
	// headers of bin/sh and proc/self/exe from it.
	FS fs.FS
}

// RealProbes returns the probes of the running system.
func RealProbes() Probes {
	return Probes{
		Uname: func() (string, error) {
			var u unix.Utsname
			if err := unix.Uname(&u); err != nil {
				return "", fmt.Errorf("uname: %w", err)
			}
			return unix.ByteSliceToString(u.Machine[:]), nil
		},
		Linux32: func() (bool, error) {
			// personality(0xffffffff) queries without changing anything.
			const queryPersona, perMask, perLinux32 = 0xffffffff, 0xff, 0x0008
			r, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, queryPersona, 0, 0)
			if errno != 0 {
				return false, fmt.Errorf("personality: %w", errno)
			}
			return r&perMask == perLinux32, nil
		},
		FS: os.DirFS("/"),
	}
}

// Host is the detected build machine.
type Host struct {
	// Target is the architecture of the userland: what the programs on
	// this machine (compilers, dpkg, /bin/sh) are built for, and therefore
	// what it builds natively.
	Target Target
	// UnameM is what `uname -m` prints for this process.
	UnameM string
	// Kernel is the kernel's own machine name: aarch64 when UnameM is
	// armv8l, x86_64 when it is i686 under linux32.
	Kernel string
	// KernelBits is 64 for a 64-bit kernel, 32 otherwise.
	KernelBits int
	// Linux32 is true when the process runs with the linux32 personality.
	Linux32 bool
	// Userland is the ELF header detection trusted; Path is empty when no
	// header could be used and the target came from uname alone.
	Userland ELFInfo
	// CPU is what /proc/cpuinfo says (zero when unreadable).
	CPU CPU
	// Notes explain the less obvious conclusions, one sentence each.
	Notes []string
}

// DetectHost detects the machine this process runs on with the real
// probes; see Detect.
func DetectHost() (Host, error) { return Detect(RealProbes()) }

// Detect works out the host from the probes. The target comes from the
// userland's ELF header (/bin/sh, else our own executable) when that is
// consistent with the kernel, otherwise from uname -m; /proc/cpuinfo only
// refines the Go settings. It returns an error only when no probe names a
// known architecture.
func Detect(p Probes) (Host, error) {
	var h Host
	machine, unameErr := p.Uname()
	h.UnameM = machine
	if p.Linux32 != nil {
		// An unreadable personality only loses a note; uname still knows.
		h.Linux32, _ = p.Linux32()
	}
	unameTarget, unameOK := Lookup(machine)
	if unameOK {
		h.Kernel, h.KernelBits = kernelOf(unameTarget, machine, h.Linux32)
	}

	if p.FS != nil {
		if b, err := fs.ReadFile(p.FS, "proc/cpuinfo"); err == nil {
			h.CPU = parseCPUInfo(string(b))
		}
	}

	t, how, ok := fromELF(p.FS, unameTarget, unameOK, &h)
	switch {
	case ok:
		h.Target = t
		h.Userland = how
	case unameOK:
		h.Target = unameTarget
		h.Notes = append(h.Notes, "no usable ELF header; the target comes from uname -m alone")
	case unameErr != nil:
		return Host{}, fmt.Errorf("detect host architecture: %w", unameErr)
	default:
		return Host{}, fmt.Errorf("detect host architecture: uname -m says %q, which bootstrap does not know, and no ELF header could be read", machine)
	}
	if !unameOK {
		h.Kernel, h.KernelBits = machine, h.Target.Bits
	}
	if h.CPU.foreignTo(h.Target) {
		// Under qemu-user, /proc/cpuinfo is the emulating host's.
		h.Notes = append(h.Notes, "/proc/cpuinfo describes another architecture's CPU (emulation?); ignored")
		h.CPU = CPU{}
	}
	h.explain()
	return h, nil
}

// kernelOf names the kernel's machine and word size from uname -m. A 64-bit
// kernel shows a 32-bit name to linux32 processes, and armv8l exists only
// as arm64's compat name, so both cases point at the 64-bit kernel.
func kernelOf(t Target, machine string, linux32 bool) (string, int) {
	if t.Bits == 64 {
		return machine, 64
	}
	if machine == "armv8l" || linux32 {
		if k, ok := wide(t); ok {
			return k.UnameM[0], 64
		}
	}
	return machine, 32
}

// wide returns the 64-bit target of t's family (arm64 for armhf).
func wide(t Target) (Target, bool) {
	for _, k := range table {
		if k.Bits == 64 && family(k.ELFMachine) == family(t.ELFMachine) {
			return k, true
		}
	}
	return Target{}, false
}

// family groups the 32- and 64-bit machines one kernel can run together.
func family(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64, elf.EM_386:
		return "x86"
	case elf.EM_AARCH64, elf.EM_ARM:
		return "arm"
	case elf.EM_PPC64, elf.EM_PPC:
		return "ppc"
	}
	return m.String()
}

// fromELF picks the target from the first ELF header that fits the
// kernel. /bin/sh comes first because it is the userland builds will use;
// our own executable is the fallback (under qemu-user, /bin/sh is the
// emulating host's while /proc/self/exe is ours).
func fromELF(fsys fs.FS, unameTarget Target, unameOK bool, h *Host) (Target, ELFInfo, bool) {
	if fsys == nil {
		return Target{}, ELFInfo{}, false
	}
	for _, path := range []string{"bin/sh", "proc/self/exe"} {
		e, err := readELF(fsys, path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			h.Notes = append(h.Notes, err.Error())
			continue
		}
		cands := targetsForELF(e)
		if len(cands) == 0 {
			h.Notes = append(h.Notes, fmt.Sprintf("%s is %s, which bootstrap does not know", e.Path, e))
			continue
		}
		if unameOK && (family(cands[0].ELFMachine) != family(unameTarget.ELFMachine) || cands[0].Bits > h.KernelBits) {
			h.Notes = append(h.Notes, fmt.Sprintf("%s is %s, foreign to this %s kernel (emulation?); not used", e.Path, e, h.Kernel))
			continue
		}
		t := cands[0]
		for _, c := range cands {
			if unameOK && c.Name == unameTarget.Name {
				t = c
			}
		}
		return t, e, true
	}
	return Target{}, ELFInfo{}, false
}

// explain records the conclusions a porter would otherwise get wrong.
func (h *Host) explain() {
	if h.Target.Bits < h.KernelBits {
		n := fmt.Sprintf("%d-bit %s userland on a %d-bit %s kernel", h.Target.Bits, h.Target.Name, h.KernelBits, h.Kernel)
		if !h.Linux32 {
			n += fmt.Sprintf("; uname -m says %s, so run builds under `linux32` (config.guess and friends read uname -m)", h.UnameM)
		}
		h.Notes = append(h.Notes, n)
	}
	if h.Target.GOARCH == "arm" && h.CPU.ARMLevel == 8 {
		h.Notes = append(h.Notes, "/proc/cpuinfo says CPU architecture 8 (the core), not what the userland is; GOARM stays at 7")
	}
	if h.Target.GOARCH == "386" && h.CPU.X86 && !h.CPU.SSE2 {
		h.Notes = append(h.Notes, "CPU has no SSE2: Go needs GO386=387 (Go ≤ 1.15) or GO386=softfloat (Go ≥ 1.16)")
	}
}

// Vars returns the values behind ${{ host.* }}: the target's names, with
// the Go settings this CPU supports (for the newest Go), the uname and the
// kernel.
func (h Host) Vars() map[string]string {
	v := h.Target.Vars()
	g := h.Go("")
	v["goarm"], v["go386"], v["goppc64"] = g.GOARM, g.GO386, g.GOPPC64
	v["uname"] = h.UnameM
	v["kernel"] = h.Kernel
	return v
}

// String names the host briefly, like "armhf (armv8l, aarch64 kernel)".
func (h Host) String() string {
	s := h.Target.Name + " (" + h.UnameM
	if h.Kernel != h.UnameM {
		s += ", " + h.Kernel + " kernel"
	}
	return s + ")"
}

// NotNativeError is returned by CanBuild when a target is not the host's.
type NotNativeError struct {
	Host   string
	Target string
	// Hint says what to do instead.
	Hint string
}

func (e *NotNativeError) Error() string {
	return fmt.Sprintf("this host is %s; it cannot build %s natively (hint: %s)", e.Host, e.Target, e.Hint)
}

// CanBuild reports whether the host can build target t natively: only its
// own userland's target. The error is a *NotNativeError with a hint that
// depends on whether this kernel could run t's binaries in a chroot.
func (h Host) CanBuild(t Target) error {
	if t.Name == h.Target.Name {
		return nil
	}
	e := &NotNativeError{Host: h.String(), Target: t.Name}
	kernelTarget, _ := Lookup(h.Kernel)
	switch {
	case family(t.ELFMachine) == family(kernelTarget.ELFMachine) && t.Bits <= h.KernelBits:
		e.Hint = fmt.Sprintf("this %s kernel runs %s binaries: add --emulate to run the steps in %s root file system (bootstrap builds it with mmdebstrap --arch=%s), or build in such a chroot yourself", h.Kernel, t.Name, WithArticle(t.DebArch), t.DebArch)
		if t.Bits < h.KernelBits {
			e.Hint += " under `linux32`, so that uname -m agrees"
		}
	default:
		e.Hint = fmt.Sprintf("run on %s machine, or here with --emulate: the steps then run in %s root file system through qemu-user (binfmt_misc handler %s; `bootstrap doctor --install --emulate --target %s RECIPE` sets it up)", WithArticle(t.Name), WithArticle(t.DebArch), t.QEMU, t.Name)
	}
	return e
}

// GoSettings are the Go environment variables for building on a host.
type GoSettings struct {
	GOARCH, GOARM, GO386, GOPPC64 string
}

// Env returns the settings that apply as NAME=value pairs.
func (g GoSettings) Env() []string {
	var env []string
	for _, kv := range [][2]string{{"GOARCH", g.GOARCH}, {"GOARM", g.GOARM}, {"GO386", g.GO386}, {"GOPPC64", g.GOPPC64}} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return env
}

// Go returns the Go settings that make the most of this CPU for Go release
// goVersion ("go1.15", "1.22.6"; "" for the newest). They start from the
// target's baseline and follow /proc/cpuinfo where it says more: the ARM
// level capped at 7 (GOARM has no 8), at 6 on an ARMv6 core that claims 7,
// and 5 without VFP; GO386=387 or
// softfloat without SSE2, depending on the release (387 was removed in Go
// 1.16); power9 or power10 on such a core (Go before 1.20 rejects power10).
func (h Host) Go(goVersion string) GoSettings {
	t := h.Target
	g := GoSettings{GOARCH: t.GOARCH, GOARM: t.GOARM, GO386: t.GO386, GOPPC64: t.GOPPC64}
	minor, known := goMinor(goVersion)
	newest := !known
	c := h.CPU
	switch t.GOARCH {
	case "arm":
		if c.ARMLevel >= 5 {
			lvl := min(c.ARMLevel, 7)
			if c.armv6(h.UnameM) {
				lvl = min(lvl, 6)
			}
			if lvl >= 6 && c.Features && !c.VFP {
				lvl = 5
			}
			g.GOARM = fmt.Sprint(lvl)
		}
	case "386":
		if c.X86 && c.SSE2 {
			g.GO386 = "sse2"
		} else if !newest && minor <= 15 {
			g.GO386 = "387" // Go before 1.16 spelled softfloat "387"
		}
	case "ppc64le":
		switch {
		case c.POWER >= 10 && (newest || minor >= 20):
			g.GOPPC64 = "power10"
		case c.POWER >= 9:
			g.GOPPC64 = "power9"
		}
	}
	return g
}

// KernelRuns reports whether this host's kernel can execute t's binaries
// without an emulator: the same CPU family, no wider than the kernel (an
// x86_64 kernel runs i386 binaries, an arm64 kernel armhf ones). It cannot
// see a kernel built without its 32-bit compatibility layer (IA32
// emulation, AArch32 support); the emulated run's first step would then
// fail to start its shell, with a message naming binfmt_misc.
func (h Host) KernelRuns(t Target) bool {
	k, ok := Lookup(h.Kernel)
	return ok && family(t.ELFMachine) == family(k.ELFMachine) && t.Bits <= h.KernelBits
}

// WithArticle puts "a" or "an" before an architecture name as it is read
// aloud: an amd64, an arm64, an i386, but a ppc64le, a 386.
func WithArticle(name string) string {
	if strings.IndexByte("aeio", name[0]) >= 0 {
		return "an " + name
	}
	return "a " + name
}
