package arch

import (
	"fmt"
	"strings"
)

// Row is one line of a host's description: a naming scheme and the
// host's name in it.
type Row struct{ Label, Value string }

// Describe is the host in every naming scheme, in the order `bootstrap
// arch` prints it: what detection saw (uname -m, kernel, userland, CPU),
// the Go settings for goVersion (empty: the newest Go), then the target's
// Debian, GNU, OCI and QEMU names.
func (h Host) Describe(goVersion string) []Row {
	t := h.Target
	uname := h.UnameM
	if h.Linux32 {
		uname += " (linux32 personality)"
	}
	userland := "unknown (from uname -m)"
	if h.Userland.Path != "" {
		userland = fmt.Sprintf("%s (%s)", h.Userland, h.Userland.Path)
	}
	rows := []Row{
		{"target", t.Name},
		{"uname -m", uname},
		{"kernel", fmt.Sprintf("%s, %d-bit", h.Kernel, h.KernelBits)},
		{"userland", userland},
		{"cpu", h.CPU.summary()},
	}
	for _, kv := range h.Go(goVersion).Env() {
		name, val, _ := strings.Cut(kv, "=")
		rows = append(rows, Row{name, val})
	}
	return append(rows,
		Row{"debian", t.DebArch},
		Row{"triplet", t.Triplet},
		Row{"platform", t.Platform},
		Row{"qemu", t.QEMU},
		Row{"first Go", t.FirstGo},
	)
}

// summary says in a few words what /proc/cpuinfo contributed.
func (c CPU) summary() string {
	var parts []string
	if c.Model != "" {
		parts = append(parts, c.Model)
	}
	if c.ARMLevel > 0 {
		parts = append(parts, fmt.Sprintf("ARM architecture %d", c.ARMLevel))
		if c.Features {
			parts = append(parts, fmt.Sprintf("vfp=%v neon=%v", c.VFP, c.NEON))
		}
	}
	if c.X86 {
		parts = append(parts, fmt.Sprintf("sse2=%v", c.SSE2))
	}
	if c.POWER > 0 {
		parts = append(parts, fmt.Sprintf("POWER%d", c.POWER))
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, ", ")
}
