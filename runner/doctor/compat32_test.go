package doctor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// The cpuinfo samples in testdata/cpuinfo are written in the kernel's
// format (arch/arm64/kernel/cpuinfo.c for the arm64 ones, arch/arm for the
// armv7l one) with the MIDR values of the named boards;
// x86_64-this-host.txt is the head of this machine's /proc/cpuinfo.
func TestParseCores(t *testing.T) {
	for _, tt := range []struct {
		file      string
		want      string // Core.String of each kind, "; "-joined
		noAArch32 bool
	}{
		{"graviton2-neoverse-n1.txt", "Arm Neoverse N1 (0x41/0xd0c) ×2", false},
		{"thunderx-cn88xx.txt", "Cavium ThunderX (0x43/0x0a1) ×4", true},
		{"rpi4-cortex-a72-arm64.txt", "Arm Cortex-A72 (0x41/0xd08) ×4", false},
		{"rpi4-cortex-a72-read-by-armhf.txt", "Arm Cortex-A72 (0x41/0xd08) ×4", false},
		{"biglittle-a53-a73.txt", "Arm Cortex-A53 (0x41/0xd03) ×4; Arm Cortex-A73 (0x41/0xd09) ×4", false},
		{"apple-m1-asahi.txt", "Apple core (0x61/0x022) ×4; Apple core (0x61/0x023) ×4", true},
		{"rpi3-armv7l-kernel.txt", "Arm Cortex-A53 (0x41/0xd03) ×4", false},
		{"x86_64-this-host.txt", "", false},
		// What qemu-aarch64 10 shows a guest (its "max" CPU).
		{"qemu-aarch64-max.txt", "core (0x00/0x051) ×2", false},
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "cpuinfo", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			cores := parseCores(string(b))
			var names []string
			lacking := false
			for _, c := range cores {
				names = append(names, c.String())
				lacking = lacking || c.NoAArch32()
			}
			if got := strings.Join(names, "; "); got != tt.want {
				t.Errorf("cores = %q, want %q", got, tt.want)
			}
			if lacking != tt.noAArch32 {
				t.Errorf("NoAArch32 = %v, want %v", lacking, tt.noAArch32)
			}
		})
	}
}

// TestMinimal32RunsForReal executes the minimal programs on this machine:
// the 386 one on an x86_64 kernel (natively, under the IA32 layer), the
// armhf one wherever a kernel or a qemu-arm handler runs it.
func TestMinimal32RunsForReal(t *testing.T) {
	h, err := arch.DetectHost()
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, name := range []string{"386", "armhf", "armel"} {
		tg, _ := arch.Lookup(name)
		t.Run(name, func(t *testing.T) {
			handler, _ := os.ReadFile(filepath.Join("/proc/sys/fs/binfmt_misc", tg.QEMU))
			viaQEMU := parseHandler(string(handler)).enabled
			if !h.KernelRuns(tg) && !viaQEMU {
				t.Skipf("this %s kernel does not run %s programs and no %s handler is registered", h.Kernel, name, tg.QEMU)
			}
			exit, err := runMinimal32(context.Background(), tg)
			if err != nil {
				t.Fatalf("run minimal %s program: %v", name, err)
			}
			if exit != exitCode32 {
				t.Errorf("minimal %s program exited %d, want %d", name, exit, exitCode32)
			}
			ran++
			t.Logf("%s: exit %d (through %s: %v)", name, exit, tg.QEMU, viaQEMU && !h.KernelRuns(tg))
		})
	}
	if ran == 0 {
		t.Skip("nothing here runs a 32-bit program")
	}
}

// TestProbeCompat32ForReal asks this kernel for real: the personality
// switch on a thread of its own and uname under it, and that nothing else
// in the process is left under linux32.
func TestProbeCompat32ForReal(t *testing.T) {
	h, err := arch.DetectHost()
	if err != nil {
		t.Fatal(err)
	}
	if h.KernelBits != 64 || h.Linux32 {
		t.Skipf("needs a 64-bit kernel outside linux32; this is %s", h)
	}
	narrow := map[string]string{"amd64": "386", "arm64": "armhf"}[h.Target.Name]
	if narrow == "" {
		t.Skipf("no 32-bit target for %s", h.Target.Name)
	}
	tg, _ := arch.Lookup(narrow)
	c := ProbeCompat32(context.Background(), tg, "")
	rep := checkCompat32(h, tg, c, nil)
	t.Logf("%+v\n%+v", c, rep)
	if c.PersonalityErr != nil {
		if errors := c.PersonalityErr.Error(); !strings.Contains(errors, "EINVAL") && !strings.Contains(errors, "invalid argument") {
			t.Fatalf("personality: %v", c.PersonalityErr)
		}
		if rep[0].Status != Missing {
			t.Errorf("refused personality reported as %s", rep[0].Status)
		}
	} else if c.Uname != compatName(tg) || rep[0].Status != OK {
		t.Errorf("uname under linux32 = %q (%s), want %s", c.Uname, rep[0].Status, compatName(tg))
	}
	// The switch stayed on its own thread: a process started now, from
	// whichever thread, still sees the 64-bit name.
	for range 8 {
		out, err := exec.Command("uname", "-m").Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)); got != h.UnameM {
			t.Fatalf("after the probe uname -m says %s, want %s: the personality leaked", got, h.UnameM)
		}
	}
}

func TestCheckCompat32(t *testing.T) {
	arm64 := arch.Host{Target: mustTarget(t, "arm64"), UnameM: "aarch64", Kernel: "aarch64", KernelBits: 64}
	armhf := mustTarget(t, "armhf")
	cores := func(file string) []Core {
		b, err := os.ReadFile(filepath.Join("testdata", "cpuinfo", file))
		if err != nil {
			t.Fatal(err)
		}
		return parseCores(string(b))
	}
	works := Compat32{Uname: "armv8l", Exit: exitCode32}
	einval := fmt.Errorf("personality(PER_LINUX32): %w", syscall.EINVAL)
	enoexec := &os.PathError{Op: "fork/exec", Path: "/tmp/x", Err: syscall.ENOEXEC}
	for _, tt := range []struct {
		name  string
		c     Compat32
		cores []Core
		want  []Status // linux32, exec32[, cpu]
		says  string
	}{
		{"graviton2", works, cores("graviton2-neoverse-n1.txt"), []Status{OK, OK, OK}, "uname -m says armv8l under it"},
		{"thunderx refuses", Compat32{PersonalityErr: einval, ExecErr: enoexec}, cores("thunderx-cn88xx.txt"), []Status{Missing, Missing, Missing},
			"Cavium ThunderX (0x43/0x0a1) ×4: Cavium ThunderX (0x43/0x0a1) ×4 has no AArch32"},
		{"kernel without CONFIG_COMPAT", Compat32{PersonalityErr: einval, ExecErr: enoexec}, cores("rpi4-cortex-a72-arm64.txt"), []Status{Missing, Missing, OK},
			"or the kernel lacks CONFIG_COMPAT"},
		{"qemu-arm registered", Compat32{Uname: "armv8l", Exit: exitCode32, Intercepted: "qemu-arm"}, nil, []Status{OK, Unknown},
			"echo 0 > /proc/sys/fs/binfmt_misc/qemu-arm"},
		{"wrong uname", Compat32{Uname: "aarch64", Exit: exitCode32}, nil, []Status{Missing, OK}, `uname -m says "aarch64", not armv8l`},
		{"bad exit", Compat32{Uname: "armv8l", Exit: 139}, nil, []Status{OK, Missing}, "exited 139, not 42"},
		{"apple, but the kernel ran it", works, cores("apple-m1-asahi.txt"), []Status{OK, OK, OK}, "the kernel runs 32-bit programs on the other cores"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := checkCompat32(arm64, armhf, tt.c, tt.cores)
			var all strings.Builder
			(&Report{Results: res}).Print(&all)
			if len(res) != len(tt.want) {
				t.Fatalf("%d results, want %d:\n%s", len(res), len(tt.want), all.String())
			}
			for i, w := range tt.want {
				if res[i].Status != w {
					t.Errorf("%s: %s, want %s", res[i].Kind, res[i].Status, w)
				}
			}
			if !strings.Contains(all.String(), tt.says) {
				t.Errorf("report lacks %q:\n%s", tt.says, all.String())
			}
		})
	}
}

// TestCheck32Placement runs Check for the hosts the armhf recipe meets.
// The kernel's answers for a foreign board are given (this machine cannot
// play an arm64 kernel); the real ones are tested above.
func TestCheck32Placement(t *testing.T) {
	r := &recipe.Recipe{Targets: []recipe.Str{str("armhf")}}
	arm64 := &arch.Host{Target: mustTarget(t, "arm64"), UnameM: "aarch64", Kernel: "aarch64", KernelBits: 64}
	armhfUser := &arch.Host{Target: mustTarget(t, "armhf"), UnameM: "aarch64", Kernel: "aarch64", KernelBits: 64}
	armhfLinux32 := &arch.Host{Target: mustTarget(t, "armhf"), UnameM: "armv8l", Kernel: "aarch64", KernelBits: 64, Linux32: true}
	refuses := func(context.Context, arch.Target) Compat32 {
		return Compat32{PersonalityErr: syscall.EINVAL, ExecErr: syscall.ENOEXEC}
	}
	cpuinfo := filepath.Join("testdata", "cpuinfo", "thunderx-cn88xx.txt")
	for _, tt := range []struct {
		name string
		opts Options
		ok   bool
		want []string
	}{
		{"amd64 host, native", Options{Host: hostOf(t, "amd64"), Target: "armhf"}, false, []string{
			"MISSING  arch     amd64: this host is amd64 (x86_64); it cannot build armhf natively",
			"MISSING  linux32  armhf: this x86_64 kernel runs no armhf code, natively or under linux32",
			"`bootstrap run --emulate --target armhf RECIPE` (qemu-arm through binfmt_misc",
		}},
		{"thunderx, --emulate", Options{Host: arm64, Target: "armhf", Emulate: true, RootfsGiven: true, Compat32: refuses, CPUInfo: cpuinfo}, false, []string{
			"ok       emulate  armhf: this aarch64 kernel runs armhf programs itself if its CPU does",
			"MISSING  linux32  armhf: this aarch64 kernel refuses the 32-bit personality",
			"MISSING  exec32   armhf: this aarch64 kernel will not execute armhf programs (exec format error)",
			"MISSING  cpu      armhf: Cavium ThunderX (0x43/0x0a1) ×4: Cavium ThunderX (0x43/0x0a1) ×4 has no AArch32",
		}},
		{"thunderx, native", Options{Host: arm64, Target: "armhf", Compat32: refuses, CPUInfo: cpuinfo}, false, []string{
			"cannot build armhf natively (hint: this aarch64 kernel runs armhf binaries: add --emulate",
			"MISSING  linux32  armhf: this aarch64 kernel refuses the 32-bit personality",
		}},
		{"armhf userland, no linux32", Options{Host: armhfUser, Target: "armhf"}, false, []string{
			"MISSING  linux32  armhf: a 32-bit armhf userland on a 64-bit aarch64 kernel, but uname -m says aarch64",
			"linux32 bootstrap run RECIPE",
		}},
		{"armhf userland under linux32", Options{Host: armhfLinux32, Target: "armhf"}, true, []string{
			"ok       linux32  armhf: this process runs under linux32: uname -m says armv8l on the aarch64 kernel",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.WorkDir = t.TempDir()
			rep, out := run(t, r, tt.opts)
			if rep.OK() != tt.ok {
				t.Errorf("OK() = %v, want %v", rep.OK(), tt.ok)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("report lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func mustTarget(t *testing.T, name string) arch.Target {
	t.Helper()
	tg, ok := arch.Lookup(name)
	if !ok {
		t.Fatalf("no target %s", name)
	}
	return tg
}
