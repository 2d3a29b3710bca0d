package arch

import (
	"bufio"
	"strconv"
	"strings"
)

// CPU is what /proc/cpuinfo says about the processor. It describes the
// core, not the userland: an ARMv8 core reports level 8 to a 32-bit
// process too, so it never decides the target, only the Go settings.
type CPU struct {
	// Model is the model name, or the "cpu" line on POWER.
	Model string
	// ARMLevel is the "CPU architecture" number (5, 6, 7, 8; "AArch64" in
	// old kernels counts as 8); 0 when absent.
	ARMLevel int
	// VFP and NEON are the ARM floating-point and SIMD features (on a
	// 64-bit view, fp and asimd).
	VFP, NEON bool
	// Features is true when an ARM "Features" line was seen, so that a
	// missing vfp means no VFP rather than an emulator's silence.
	Features bool
	// X86 is true when an x86 "flags" line was seen, SSE2 when it lists
	// sse2.
	X86, SSE2 bool
	// POWER is the POWER ISA level (8, 9, 10); 0 when unknown.
	POWER int
}

// parseCPUInfo reads the first processor's entry of /proc/cpuinfo.
// Unknown lines are ignored, so cpuinfo from any architecture parses.
func parseCPUInfo(text string) CPU {
	var c CPU
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "model name":
			if c.Model == "" {
				c.Model = val
			}
		case "Processor":
			// Older ARM kernels name the model here.
			if c.Model == "" {
				c.Model = val
			}
		case "cpu":
			// POWER: "POWER9 (raw), altivec supported".
			if c.Model == "" {
				c.Model = val
			}
			if lvl, ok := powerLevel(val); ok && c.POWER == 0 {
				c.POWER = lvl
			}
		case "CPU architecture":
			if c.ARMLevel == 0 {
				if strings.EqualFold(val, "AArch64") {
					c.ARMLevel = 8
				} else if n, ok := leadingInt(val); ok {
					// "5TE" on a Kirkwood: the digits are the level.
					c.ARMLevel = n
				}
			}
		case "Features":
			c.Features = true
			for _, f := range strings.Fields(val) {
				switch f {
				case "vfp", "vfpv3", "vfpv4", "fp":
					c.VFP = true
				case "neon", "asimd":
					c.NEON = true
				}
			}
		case "flags":
			c.X86 = true
			for _, f := range strings.Fields(val) {
				if f == "sse2" {
					c.SSE2 = true
				}
			}
		}
	}
	return c
}

// powerLevel reads the ISA level from a POWER "cpu" value such as
// "POWER9 (raw)" or "POWER8E (raw)".
func powerLevel(cpu string) (int, bool) {
	rest, ok := strings.CutPrefix(strings.ToUpper(cpu), "POWER")
	if !ok {
		return 0, false
	}
	return leadingInt(rest)
}

// leadingInt parses the decimal digits at the start of s.
func leadingInt(s string) (int, bool) {
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(s[:end])
	return n, err == nil
}

// armv6 reports whether the model or uname says ARMv6. An ARM1176 (the
// Raspberry Pi 1 and Zero) prints "CPU architecture: 7" because it uses
// the v7 CPUID scheme, but it cannot run GOARM=7 code.
func (c CPU) armv6(unameM string) bool {
	return unameM == "armv6l" || strings.Contains(c.Model, "(v6l)") || strings.Contains(c.Model, "ARMv6")
}

// foreignTo reports whether the cpuinfo is plainly another architecture's
// than t: x86 flags, an ARM level or a POWER model on the wrong family.
func (c CPU) foreignTo(t Target) bool {
	f := family(t.ELFMachine)
	return (c.X86 && f != "x86") || (c.ARMLevel > 0 && f != "arm") || (c.POWER > 0 && f != "ppc")
}
