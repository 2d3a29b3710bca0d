package doctor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// A 32-bit target on a 64-bit kernel of its own family (armhf on arm64,
// 386 on x86_64) builds at native speed only if two things hold, and
// neither shows in `uname -m` or in the kernel's name:
//
//   - the CPU runs 32-bit code at all. Some ARMv8 cores have no AArch32
//     (Cavium ThunderX, the servers of the 2020 armhf report; Apple's
//     cores), and a kernel built without CONFIG_COMPAT (CONFIG_IA32_EMULATION
//     on x86) refuses 32-bit programs on any CPU;
//   - the steps run under the 32-bit personality (linux32), so that
//     `uname -m` says armv8l (i686) rather than aarch64 (x86_64): autoconf's
//     config.guess, Go's cmd/dist and Docker's own platform detection read it
//     and otherwise build for the 64-bit machine.
//
// Both are asked of the kernel itself: personality(PER_LINUX32), which the
// arm64 kernel refuses with EINVAL unless some CPU runs AArch32 at EL0 and
// the kernel has CONFIG_COMPAT (arch/arm64/kernel/sys.c,
// system_supports_32bit_el0), then uname(2) under it, then execve of a
// minimal static program of the target that exits with exitCode32.

// perLinux32 is PER_LINUX32 from <linux/personality.h>.
const perLinux32 = 0x0008

// exitCode32 is what the minimal 32-bit program exits with.
const exitCode32 = 42

// Compat32 is what this kernel answered about running a 32-bit target's
// programs natively.
type Compat32 struct {
	// PersonalityErr is personality(PER_LINUX32)'s error (EINVAL on an
	// arm64 kernel that cannot run AArch32 code).
	PersonalityErr error
	// Uname is what uname(2) says under that personality (armv8l, i686).
	Uname string
	// ExecErr is the error of running the minimal program (ENOEXEC: the
	// kernel will not run it); Exit is its exit status.
	ExecErr error
	Exit    int
	// Intercepted names the enabled binfmt_misc handler that would run the
	// program instead of the CPU (qemu-arm on an arm64 board with
	// qemu-user-static), empty when none: binfmt_misc handlers are tried
	// before the kernel's own ELF loader.
	Intercepted string
}

// ProbeCompat32 asks this kernel whether it runs t's programs natively:
// the personality call and uname under it (on a thread of its own, which
// is thrown away afterwards, so no other goroutine ever runs under
// linux32), then a minimal static program of t, written to a temporary
// directory and executed. binfmtDir is where binfmt_misc is mounted
// (default /proc/sys/fs/binfmt_misc). Problems are reported in the result,
// never returned.
func ProbeCompat32(ctx context.Context, t arch.Target, binfmtDir string) Compat32 {
	var c Compat32
	c.Uname, c.PersonalityErr = unameUnderLinux32()
	if binfmtDir == "" {
		binfmtDir = "/proc/sys/fs/binfmt_misc"
	}
	if b, err := os.ReadFile(filepath.Join(binfmtDir, t.QEMU)); err == nil && parseHandler(string(b)).enabled {
		c.Intercepted = t.QEMU
	}
	c.Exit, c.ExecErr = runMinimal32(ctx, t)
	return c
}

// unameUnderLinux32 switches one locked OS thread to PER_LINUX32 and
// returns what uname -m says there. The thread is never unlocked, so the
// Go runtime ends it with the goroutine instead of reusing it.
func unameUnderLinux32() (string, error) {
	type answer struct {
		machine string
		err     error
	}
	done := make(chan answer, 1)
	go func() {
		runtime.LockOSThread()
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, perLinux32, 0, 0); e != 0 {
			done <- answer{err: fmt.Errorf("personality(PER_LINUX32): %w", e)}
			return
		}
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			done <- answer{err: fmt.Errorf("uname under PER_LINUX32: %w", err)}
			return
		}
		done <- answer{machine: unix.ByteSliceToString(u.Machine[:])}
	}()
	a := <-done
	return a.machine, a.err
}

// runMinimal32 writes the minimal program of t and runs it, returning its
// exit status.
func runMinimal32(ctx context.Context, t arch.Target) (int, error) {
	prog, err := minimal32(t)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "bootstrap-compat32-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, t.Name+"-exit42")
	if err := os.WriteFile(path, prog, 0o755); err != nil {
		return 0, err
	}
	err = exec.CommandContext(ctx, path).Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("run a minimal %s program: %w", t.Name, err)
	}
	return 0, nil
}

// minimal32 returns a static ELF32 executable for t whose only
// instructions are exit(exitCode32): one PT_LOAD segment holding the
// headers and the code, entered just after them.
func minimal32(t arch.Target) ([]byte, error) {
	const base, ehsize, phsize = 0x400000, 52, 32
	var code []byte
	var flags uint32
	switch t.ELFMachine {
	case 40: // EM_ARM, A32 instructions
		le := binary.LittleEndian
		code = le.AppendUint32(code, 0xe3a00000|exitCode32) // mov r0, #42
		code = le.AppendUint32(code, 0xe3a07001)            // mov r7, #1 (exit)
		code = le.AppendUint32(code, 0xef000000)            // svc #0
		// EABI version 5: arm64's compat loader refuses an ELF without an
		// EABI version (compat_elf_check_arch); hard-float ABI for armhf.
		flags = 0x05000000
		if t.FloatABI == "hard" {
			flags |= 0x400
		}
	case 3: // EM_386
		code = []byte{
			0xbb, exitCode32, 0, 0, 0, // mov ebx, 42
			0xb8, 1, 0, 0, 0, // mov eax, 1 (exit)
			0xcd, 0x80, // int 0x80
		}
	default:
		return nil, fmt.Errorf("no minimal program for %s", t.Name)
	}
	size := uint32(ehsize + phsize + len(code))
	le := binary.LittleEndian
	b := []byte{0x7f, 'E', 'L', 'F', 1 /* ELFCLASS32 */, 1 /* little-endian */, 1 /* EV_CURRENT */}
	b = append(b, make([]byte, 16-len(b))...)
	b = le.AppendUint16(b, 2) // ET_EXEC
	b = le.AppendUint16(b, uint16(t.ELFMachine))
	b = le.AppendUint32(b, 1)                  // e_version
	b = le.AppendUint32(b, base+ehsize+phsize) // e_entry
	b = le.AppendUint32(b, ehsize)             // e_phoff
	b = le.AppendUint32(b, 0)                  // e_shoff
	b = le.AppendUint32(b, flags)              // e_flags
	b = le.AppendUint16(b, ehsize)             // e_ehsize
	b = le.AppendUint16(b, phsize)             // e_phentsize
	b = le.AppendUint16(b, 1)                  // e_phnum
	b = append(b, 0, 0, 0, 0, 0, 0)            // e_shentsize, e_shnum, e_shstrndx
	b = le.AppendUint32(b, 1)                  // PT_LOAD
	b = le.AppendUint32(b, 0)                  // p_offset
	b = le.AppendUint32(b, base)               // p_vaddr
	b = le.AppendUint32(b, base)               // p_paddr
	b = le.AppendUint32(b, size)               // p_filesz
	b = le.AppendUint32(b, size)               // p_memsz
	b = le.AppendUint32(b, 5)                  // PF_R|PF_X
	b = le.AppendUint32(b, 0x1000)             // p_align
	return append(b, code...), nil
}

// needsLinux32 reports whether t's programs would run on h's own kernel as
// a 32-bit guest of a 64-bit kernel: the case where the personality and
// the CPU's 32-bit support matter.
func needsLinux32(h arch.Host, t arch.Target) bool {
	return t.Bits == 32 && h.KernelBits == 64 && h.KernelRuns(t)
}

// compatName is what uname -m says under linux32 on a 64-bit kernel of t's
// family: armv8l on arm64, i686 on x86_64.
func compatName(t arch.Target) string {
	if t.GOARCH == "arm" {
		return "armv8l"
	}
	return t.UnameM[0]
}

// checkCompat32 turns the kernel's answers and the CPU's description into
// results for running t's steps on host h under linux32. It only judges;
// ProbeCompat32 and parseCores gather.
func checkCompat32(h arch.Host, t arch.Target, c Compat32, cores []Core) []Result {
	kernel := h.Kernel
	per := Result{Kind: "linux32", Name: t.Name}
	switch {
	case errors.Is(c.PersonalityErr, syscall.EINVAL) && t.GOARCH == "arm":
		per.Status = Missing
		per.Detail = fmt.Sprintf("this %s kernel refuses the 32-bit personality (personality(PER_LINUX32): EINVAL): no CPU here runs AArch32 code, or the kernel lacks CONFIG_COMPAT; %s programs cannot run natively. Fix: a board whose cores run AArch32 at EL0 (Cortex-A53/A57/A72, Neoverse N1 as in AWS Graviton2), or a kernel with CONFIG_COMPAT=y; else an armhf board", kernel, t.Name)
	case c.PersonalityErr != nil:
		per.Status = Missing
		per.Detail = fmt.Sprintf("%v: the steps cannot run under linux32 here, so uname -m would say %s and config.guess, Go's cmd/dist and Docker would build for the 64-bit machine", c.PersonalityErr, kernel)
	case c.Uname != compatName(t):
		per.Status = Missing
		per.Detail = fmt.Sprintf("under PER_LINUX32 uname -m says %q, not %s: this kernel does not rename itself for 32-bit programs, so builds would take the host for %s", c.Uname, compatName(t), c.Uname)
	default:
		per.Status = OK
		per.Detail = fmt.Sprintf("personality(PER_LINUX32) works: uname -m says %s under it, as it will in every step an --emulate run enters", c.Uname)
	}

	run := Result{Kind: "exec32", Name: t.Name}
	switch {
	case c.Intercepted != "":
		run.Status = Unknown
		run.Detail = fmt.Sprintf("binfmt_misc handler %s is enabled and comes before the kernel's own loader: %s programs here run in qemu, several times slower, and whether the CPU runs them cannot be seen. To run them natively: echo 0 > /proc/sys/fs/binfmt_misc/%s (echo 1 turns it back on)", c.Intercepted, t.Name, c.Intercepted)
	case errors.Is(c.ExecErr, syscall.ENOEXEC):
		run.Status = Missing
		run.Detail = fmt.Sprintf("this %s kernel will not execute %s programs (exec format error): %s", kernel, t.Name, noCompatFix(t))
	case c.ExecErr != nil:
		run.Status = Unknown
		run.Detail = c.ExecErr.Error()
	case c.Exit != exitCode32:
		run.Status = Missing
		run.Detail = fmt.Sprintf("a minimal %s program exited %d, not %d: 32-bit code does not run correctly here", t.Name, c.Exit, exitCode32)
	default:
		run.Status = OK
		run.Detail = fmt.Sprintf("a minimal static %s program ran on the CPU (exit %d)", t.Name, c.Exit)
	}
	out := []Result{per, run}
	if len(cores) > 0 {
		out = append(out, checkCores(t, cores, per.Status == OK && run.Status == OK))
	}
	return out
}

// noCompatFix says how to get a kernel that runs t's programs.
func noCompatFix(t arch.Target) string {
	if t.GOARCH == "arm" {
		return "the CPU has no AArch32 or the kernel lacks CONFIG_COMPAT (a board whose cores run AArch32, or a kernel with CONFIG_COMPAT=y)"
	}
	return "the kernel lacks CONFIG_IA32_EMULATION, or has it off (boot with ia32_emulation=1 where the kernel has CONFIG_IA32_EMULATION_DEFAULT_DISABLED)"
}

// checkCores names the CPU cores /proc/cpuinfo lists; a core known to lack
// AArch32 fails unless the kernel just ran 32-bit code (then some other
// core did, and the kernel's answer wins).
func checkCores(t arch.Target, cores []Core, ran bool) Result {
	res := Result{Kind: "cpu", Name: t.Name, Status: OK}
	var names, lacking []string
	for _, c := range cores {
		names = append(names, c.String())
		if c.NoAArch32() {
			lacking = append(lacking, c.String())
		}
	}
	res.Detail = strings.Join(names, "; ")
	switch {
	case t.GOARCH != "arm":
	case len(lacking) > 0 && !ran:
		res.Status = Missing
		res.Detail += fmt.Sprintf(": %s has no AArch32, so no armhf program runs on it; use a board whose cores run AArch32 at EL0 (Cortex-A53/A57/A72, Neoverse N1), or an armhf board", strings.Join(lacking, ", "))
	case len(lacking) > 0:
		res.Detail += fmt.Sprintf(" (%s has no AArch32; the kernel runs 32-bit programs on the other cores)", strings.Join(lacking, ", "))
	}
	return res
}

// checkUserland32 is the native case: a 32-bit userland on a 64-bit
// kernel (an armhf Debian on an arm64 board, or the report's 32-bit LXC
// container) builds natively, but only under linux32, which bootstrap does
// not set for host steps: the porter starts it so, and every step inherits
// the personality.
func checkUserland32(h arch.Host) Result {
	res := Result{Kind: "linux32", Name: h.Target.Name}
	if h.Linux32 {
		res.Status, res.Detail = OK, fmt.Sprintf("this process runs under linux32: uname -m says %s on the %s kernel, and every step inherits it", h.UnameM, h.Kernel)
		return res
	}
	res.Status = Missing
	res.Detail = fmt.Sprintf("a %d-bit %s userland on a %d-bit %s kernel, but uname -m says %s: config.guess, Go's cmd/dist and Docker would build for %s. Run bootstrap under the 32-bit personality, which every step inherits: linux32 bootstrap run RECIPE (setarch from util-linux)", h.Target.Bits, h.Target.Name, h.KernelBits, h.Kernel, h.UnameM, h.Kernel)
	return res
}

// foreign32 explains why a 32-bit target cannot run on h's kernel at all,
// and where it can.
func foreign32(h arch.Host, t arch.Target) string {
	board := "a 64-bit x86 machine"
	if t.GOARCH == "arm" {
		board = "an arm64 board whose CPU runs AArch32"
	}
	return fmt.Sprintf("this %s kernel runs no %s code, natively or under linux32. At native speed the steps run on %s (there `bootstrap run --emulate --target %s` enters a root file system of Debian's %s under linux32, no qemu) or in a %s userland; on this machine only with --emulate: `bootstrap doctor --install --emulate --target %s RECIPE`, then `bootstrap run --emulate --target %s RECIPE` (%s through binfmt_misc, several times slower)",
		h.Kernel, t.Name, board, t.Name, t.DebArch, t.Name, t.Name, t.Name, t.QEMU)
}
