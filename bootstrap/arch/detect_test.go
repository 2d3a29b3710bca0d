package arch

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

// elfHeader builds the file header of an executable for the given class,
// byte order, machine and e_flags, as the kernel and file(1) read it.
func elfHeader(class elf.Class, data elf.Data, m elf.Machine, flags uint32) []byte {
	size, flagsAt := 52, 36
	if class == elf.ELFCLASS64 {
		size, flagsAt = 64, 48
	}
	h := make([]byte, size)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(class), byte(data), byte(elf.EV_CURRENT)
	var bo binary.ByteOrder = binary.LittleEndian
	if data == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	bo.PutUint16(h[16:], uint16(elf.ET_DYN))
	bo.PutUint16(h[18:], uint16(m))
	bo.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	bo.PutUint32(h[flagsAt:], flags)
	return append(h, make([]byte, 4096)...) // the rest of a real binary
}

// machine describes one host for Detect.
type machine struct {
	uname   string
	linux32 bool
	sh      []byte // /bin/sh's header; nil for none
	exe     []byte // our executable's header; nil for none
	cpuinfo string // file in testdata/cpuinfo
}

func (m machine) probes(t *testing.T) Probes {
	fsys := fstest.MapFS{}
	if m.sh != nil {
		fsys["bin/sh"] = &fstest.MapFile{Data: m.sh}
	}
	if m.exe != nil {
		fsys["proc/self/exe"] = &fstest.MapFile{Data: m.exe}
	}
	if m.cpuinfo != "" {
		b, err := os.ReadFile("testdata/cpuinfo/" + m.cpuinfo)
		if err != nil {
			t.Fatal(err)
		}
		fsys["proc/cpuinfo"] = &fstest.MapFile{Data: b}
	}
	return Probes{
		Uname:   func() (string, error) { return m.uname, nil },
		Linux32: func() (bool, error) { return m.linux32, nil },
		FS:      fsys,
	}
}

var (
	x8664   = elfHeader(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64, 0)
	i386    = elfHeader(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386, 0)
	aarch64 = elfHeader(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64, 0)
	// e_flags as in Debian's /bin/dash: EABI version 5 plus the float ABI.
	armhf   = elfHeader(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM, 0x05000400)
	armel   = elfHeader(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM, 0x05000200)
	goarm   = elfHeader(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM, 0x05000002) // Go's linker: no float flag
	ppc64le = elfHeader(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64, 2)
	s390x   = elfHeader(elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390, 0)
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		m       machine
		target  string
		kernel  string
		goEnv   string // Host.Go("") as env
		go115   string // Host.Go("go1.15") as env, when it differs
		noteHas string
	}{
		{name: "native amd64", m: machine{uname: "x86_64", sh: x8664, exe: x8664, cpuinfo: "x86_64-xeon.txt"},
			target: "amd64", kernel: "x86_64", goEnv: "GOARCH=amd64"},
		{name: "i386 userland on x86_64 kernel", m: machine{uname: "x86_64", sh: i386, exe: i386, cpuinfo: "x86_64-xeon.txt"},
			target: "386", kernel: "x86_64", goEnv: "GOARCH=386 GO386=sse2", noteHas: "32-bit 386 userland on a 64-bit x86_64 kernel; uname -m says x86_64"},
		{name: "i386 under linux32", m: machine{uname: "i686", linux32: true, sh: i386, exe: x8664, cpuinfo: "x86_64-xeon.txt"},
			target: "386", kernel: "x86_64", goEnv: "GOARCH=386 GO386=sse2"},
		{name: "x86 without SSE2", m: machine{uname: "i686", sh: i386, exe: i386, cpuinfo: "i686-pentium3.txt"},
			target: "386", kernel: "i686", goEnv: "GOARCH=386 GO386=softfloat", go115: "GOARCH=386 GO386=387", noteHas: "no SSE2"},
		{name: "armhf on aarch64 without linux32", m: machine{uname: "aarch64", sh: armhf, exe: goarm, cpuinfo: "aarch64-compat32.txt"},
			target: "armhf", kernel: "aarch64", goEnv: "GOARCH=arm GOARM=7", noteHas: "run builds under `linux32`"},
		{name: "armhf on aarch64 with linux32", m: machine{uname: "armv8l", linux32: true, sh: armhf, exe: goarm, cpuinfo: "aarch64-compat32.txt"},
			target: "armhf", kernel: "aarch64", goEnv: "GOARCH=arm GOARM=7", noteHas: "CPU architecture 8"},
		{name: "static 64-bit bootstrap in armhf chroot", m: machine{uname: "aarch64", sh: armhf, exe: aarch64, cpuinfo: "aarch64-neoverse-n1.txt"},
			target: "armhf", kernel: "aarch64", goEnv: "GOARCH=arm GOARM=7"},
		{name: "arm64", m: machine{uname: "aarch64", sh: aarch64, exe: aarch64, cpuinfo: "aarch64-neoverse-n1.txt"},
			target: "arm64", kernel: "aarch64", goEnv: "GOARCH=arm64"},
		{name: "armv7 board", m: machine{uname: "armv7l", sh: armhf, exe: goarm, cpuinfo: "armv7-cortex-a7.txt"},
			target: "armhf", kernel: "armv7l", goEnv: "GOARCH=arm GOARM=7"},
		{name: "raspbian on ARMv6 claiming level 7", m: machine{uname: "armv6l", sh: armhf, cpuinfo: "armv6-pi-zero.txt"},
			target: "armhf", kernel: "armv6l", goEnv: "GOARCH=arm GOARM=6"},
		{name: "armel on Kirkwood without VFP", m: machine{uname: "armv5tel", sh: armel, cpuinfo: "armv5-kirkwood.txt"},
			target: "armel", kernel: "armv5tel", goEnv: "GOARCH=arm GOARM=5"},
		{name: "Go-built arm binary only, uname decides", m: machine{uname: "armv5tel", exe: goarm, cpuinfo: "armv5-kirkwood.txt"},
			target: "armel", kernel: "armv5tel", goEnv: "GOARCH=arm GOARM=5"},
		{name: "ppc64le POWER9", m: machine{uname: "ppc64le", sh: ppc64le, exe: ppc64le, cpuinfo: "ppc64le-power9.txt"},
			target: "ppc64le", kernel: "ppc64le", goEnv: "GOARCH=ppc64le GOPPC64=power9"},
		{name: "ppc64le POWER8", m: machine{uname: "ppc64le", sh: ppc64le, cpuinfo: "ppc64le-power8.txt"},
			target: "ppc64le", kernel: "ppc64le", goEnv: "GOARCH=ppc64le GOPPC64=power8"},
		{name: "ppc64le under qemu-user on x86_64", m: machine{uname: "ppc64le", sh: x8664, exe: ppc64le, cpuinfo: "x86_64-xeon.txt"},
			target: "ppc64le", kernel: "ppc64le", goEnv: "GOARCH=ppc64le GOPPC64=power8", noteHas: "another architecture's CPU"},
		{name: "s390x", m: machine{uname: "s390x", sh: s390x, exe: s390x, cpuinfo: "s390x-z14.txt"},
			target: "s390x", kernel: "s390x", goEnv: "GOARCH=s390x"},
		{name: "no ELF, no cpuinfo", m: machine{uname: "riscv64"},
			target: "riscv64", kernel: "riscv64", goEnv: "GOARCH=riscv64", noteHas: "uname -m alone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Detect(tt.m.probes(t))
			if err != nil {
				t.Fatal(err)
			}
			if h.Target.Name != tt.target || h.Kernel != tt.kernel {
				t.Errorf("target %s, kernel %s; want %s, %s", h.Target.Name, h.Kernel, tt.target, tt.kernel)
			}
			if got := strings.Join(h.Go("").Env(), " "); got != tt.goEnv {
				t.Errorf("Go(\"\") = %s; want %s", got, tt.goEnv)
			}
			if tt.go115 != "" {
				if got := strings.Join(h.Go("go1.15.15").Env(), " "); got != tt.go115 {
					t.Errorf("Go(go1.15.15) = %s; want %s", got, tt.go115)
				}
			}
			notes := strings.Join(h.Notes, "\n")
			if tt.noteHas != "" && !strings.Contains(notes, tt.noteHas) {
				t.Errorf("notes %q lack %q", notes, tt.noteHas)
			}
		})
	}
}

func TestDetectErrors(t *testing.T) {
	_, err := Detect(machine{uname: "sparc64"}.probes(t))
	if err == nil || !strings.Contains(err.Error(), `"sparc64"`) {
		t.Errorf("unknown machine: %v", err)
	}
	p := machine{}.probes(t)
	p.Uname = func() (string, error) { return "", errors.New("uname: operation not permitted") }
	if _, err := Detect(p); err == nil || !strings.Contains(err.Error(), "not permitted") {
		t.Errorf("failing uname: %v", err)
	}
	// A broken uname is survivable when the userland is readable.
	p = machine{sh: aarch64}.probes(t)
	p.Uname = func() (string, error) { return "", errors.New("no uname") }
	if h, err := Detect(p); err != nil || h.Target.Name != "arm64" {
		t.Errorf("uname failing, ELF fine: %v, %v", h.Target.Name, err)
	}
}

func TestPOWER10NeedsGo120(t *testing.T) {
	h := Host{Target: mustLookup(t, "ppc64le"), CPU: parseCPUInfo("cpu\t\t: POWER10 (architected), altivec supported\n")}
	if g := h.Go("1.19.8"); g.GOPPC64 != "power9" {
		t.Errorf("go1.19 on POWER10: %s", g.GOPPC64)
	}
	if g := h.Go("1.22.12"); g.GOPPC64 != "power10" {
		t.Errorf("go1.22 on POWER10: %s", g.GOPPC64)
	}
}

func TestCanBuild(t *testing.T) {
	h, err := Detect(machine{uname: "aarch64", sh: aarch64, cpuinfo: "aarch64-neoverse-n1.txt"}.probes(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CanBuild(mustLookup(t, "arm64")); err != nil {
		t.Error(err)
	}
	var nn *NotNativeError
	err = h.CanBuild(mustLookup(t, "armhf"))
	if !errors.As(err, &nn) || !strings.Contains(err.Error(), "mmdebstrap --arch=armhf") || !strings.Contains(err.Error(), "linux32") {
		t.Errorf("armhf on arm64: %v", err)
	}
	err = h.CanBuild(mustLookup(t, "ppc64le"))
	if err == nil || !strings.Contains(err.Error(), "qemu-ppc64le") {
		t.Errorf("ppc64le on arm64: %v", err)
	}
	if v := h.Vars(); v["kernel"] != "aarch64" || v["triplet"] != "aarch64-linux-gnu" {
		t.Errorf("Vars() = %v", v)
	}
}

// TestDetectHostReal runs the real probes on the machine the tests run on;
// the userland must be the one the test binary was built for.
func TestDetectHostReal(t *testing.T) {
	h, err := DetectHost()
	if err != nil {
		t.Fatal(err)
	}
	if h.Target.GOARCH != runtime.GOARCH {
		t.Errorf("detected %s (%v), test binary is %s", h.Target.Name, h.Notes, runtime.GOARCH)
	}
	if h.Userland.Path == "" {
		t.Errorf("no ELF header used: %v", h.Notes)
	}
}

func TestReadELFReal(t *testing.T) {
	e, err := readELF(os.DirFS("/"), "proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if ts := targetsForELF(e); len(ts) == 0 || ts[0].GOARCH != runtime.GOARCH {
		t.Errorf("/proc/self/exe is %v → %v", e, ts)
	}
	if _, err := parseELFHeader("etc/passwd", []byte("root:x:0:0:root:/root:/bin/bash\n....................")); err == nil {
		t.Error("text accepted as ELF")
	}
}

func mustLookup(t *testing.T, name string) Target {
	t.Helper()
	tg, ok := Lookup(name)
	if !ok {
		t.Fatalf("no target %s", name)
	}
	return tg
}
