// Package arch maps architecture names between naming schemes (uname -m,
// GOARCH with GOARM/GO386/GOPPC64, Debian architecture, GNU triplet, OCI
// platform) and detects the host this process runs on.
//
// The mapping is one read-only table (see table.go), so adding a target is
// adding a row. Detection (detect.go) combines several probes because each
// one alone can lie: uname -m reports the personality (armv8l, i686 under
// linux32), /proc/cpuinfo reports the CPU (always "CPU architecture: 8" on
// an ARMv8 core, even to a 32-bit userland), and only the ELF header of the
// userland says which binaries this machine actually runs.
package arch

import (
	"debug/elf"
	"fmt"
	"strings"
)

// Target is one architecture in every naming scheme.
type Target struct {
	// Name is the canonical name used in recipes: the GOARCH, except that
	// 32-bit ARM is split like Debian splits it, into armhf and armel.
	Name string
	// GOARCH is Go's name for the architecture.
	GOARCH string
	// GOARM, GO386 and GOPPC64 are the Go settings for the target's
	// baseline (the oldest CPU its Debian port supports); empty when they
	// do not apply. A host may support more (see Host.Go).
	GOARM   string
	GO386   string
	GOPPC64 string
	// UnameM lists the values `uname -m` prints on such a machine, the
	// usual one first.
	UnameM []string
	// DebArch is the Debian architecture name (dpkg --print-architecture).
	DebArch string
	// Triplet is the GNU triplet in its Debian multiarch form, as in
	// /usr/lib/<triplet>. Cross compilers use the same prefix, except on
	// i386, where they are named i686-linux-gnu-gcc.
	Triplet string
	// Platform is the normalised OCI platform, os/arch[/variant].
	Platform string
	// FirstGo is the first Go release that supports the target on Linux,
	// like "go1.5".
	FirstGo string
	// Bits is the pointer size of the userland: 32 or 64.
	Bits int
	// ELFMachine and ELFData identify the target's binaries; FloatABI
	// ("hard" or "soft", ARM only) tells armhf from armel, which share a
	// machine number.
	ELFMachine elf.Machine
	ELFData    elf.Data
	FloatABI   string
	// QEMU is the name of qemu's user-mode emulator and of the binfmt_misc
	// handler that qemu-user-static registers for the target.
	QEMU string
}

// Vars returns the values behind ${{ target.* }}.
func (t Target) Vars() map[string]string {
	return map[string]string{
		"name":     t.Name,
		"goarch":   t.GOARCH,
		"goarm":    t.GOARM,
		"go386":    t.GO386,
		"goppc64":  t.GOPPC64,
		"debarch":  t.DebArch,
		"triplet":  t.Triplet,
		"platform": t.Platform,
		"uname":    t.UnameM[0],
		"qemu":     t.QEMU,
		"bits":     fmt.Sprint(t.Bits),
	}
}

// SupportedBy reports whether Go release goVersion ("1.4", "go1.19.8") can
// build for the target; the error names the first release that can.
func (t Target) SupportedBy(goVersion string) error {
	have, ok := goMinor(goVersion)
	if !ok {
		return fmt.Errorf("cannot parse Go version %q", goVersion)
	}
	need, _ := goMinor(t.FirstGo)
	if have < need {
		return fmt.Errorf("%s: Go %s does not support %s; the first release that does is %s",
			t.Name, strings.TrimPrefix(goVersion, "go"), t.Name, t.FirstGo)
	}
	return nil
}

// Targets returns every known target, in table order. The slice is a copy;
// changing it does not change the table.
func Targets() []Target {
	return append([]Target(nil), table...)
}

// Lookup finds a target by any of its names: the canonical name, the GOARCH
// ("arm" means armhf, as it does for Docker), the Debian architecture, a
// `uname -m` value, the GNU triplet, or an OCI platform string such as
// "linux/arm/v7", "arm64/v8" or "armhf". Case does not matter.
func Lookup(name string) (Target, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return Target{}, false
	}
	for _, t := range table {
		if n == t.Name || n == t.DebArch || n == t.Triplet || n == t.Platform {
			return t, true
		}
		for _, u := range t.UnameM {
			if n == u {
				return t, true
			}
		}
	}
	if t, ok := lookupGOARCH(n); ok {
		return t, true
	}
	if t, ok := lookupAlias(n); ok {
		return t, true
	}
	if p, err := ParsePlatform(n); err == nil {
		return LookupPlatform(p)
	}
	return Target{}, false
}

// lookupGOARCH maps a GOARCH to the row whose GOARCH it is; for "arm",
// which two rows share, the armhf row.
func lookupGOARCH(goarch string) (Target, bool) {
	if goarch == "arm" {
		goarch = "armhf"
	}
	for _, t := range table {
		if t.Name == goarch {
			return t, true
		}
	}
	return Target{}, false
}

// LookupPlatform finds the target for a normalised OCI platform. Only
// linux platforms are targets.
func LookupPlatform(p Platform) (Target, bool) {
	p = p.Normalize()
	for _, t := range table {
		if t.Platform == p.String() {
			return t, true
		}
	}
	return Target{}, false
}

// goMinor returns the minor release number of a Go version ("go1.19.8",
// "1.22", "go1.22rc1" → 19, 22, 22), for comparing releases by feature.
func goMinor(v string) (int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "go")
	rest, ok := strings.CutPrefix(v, "1.")
	if !ok {
		return 0, v == "1"
	}
	n, digits := 0, 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return n, digits > 0
}
