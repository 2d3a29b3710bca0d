package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// archOptions are the flags of `bootstrap arch`.
type archOptions struct {
	// GoVersion selects the Go release the printed settings are for
	// (GO386=387 exists only up to go1.15); empty means the newest.
	GoVersion string
	// Detect finds the host; nil means arch.DetectHost. Tests replace it.
	Detect func() (arch.Host, error)
}

func archCommand() *cli.Command {
	return &cli.Command{
		Name:  "arch",
		Usage: "show this host in every naming scheme and the Go settings it implies",
		Description: "Detection reads uname -m, the personality, the ELF header of the userland\n" +
			"(/bin/sh) and /proc/cpuinfo, so a 32-bit userland on a 64-bit kernel\n" +
			"(armv8l, i686 under linux32) is reported as what it runs, not what the CPU is.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "go", Usage: "print the Go settings for this Go `VERSION` (default: the newest)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("arch takes no arguments, got %q", c.Args().First())
			}
			return runArch(c.Context, archOptions{GoVersion: c.String("go")}, c.App.Writer)
		},
	}
}

// runArch detects the host and prints it, one "label  value" line per
// naming scheme, then the notes detection made. It returns detection's
// error.
func runArch(_ context.Context, opts archOptions, out io.Writer) error {
	detect := opts.Detect
	if detect == nil {
		detect = arch.DetectHost
	}
	h, err := detect()
	if err != nil {
		return err
	}
	t := h.Target
	uname := h.UnameM
	if h.Linux32 {
		uname += " (linux32 personality)"
	}
	userland := "unknown (from uname -m)"
	if h.Userland.Path != "" {
		userland = fmt.Sprintf("%s (%s)", h.Userland, h.Userland.Path)
	}
	rows := [][2]string{
		{"target", t.Name},
		{"uname -m", uname},
		{"kernel", fmt.Sprintf("%s, %d-bit", h.Kernel, h.KernelBits)},
		{"userland", userland},
		{"cpu", cpuLine(h.CPU)},
	}
	g := h.Go(opts.GoVersion)
	for _, kv := range g.Env() {
		name, val, _ := strings.Cut(kv, "=")
		rows = append(rows, [2]string{name, val})
	}
	rows = append(rows,
		[2]string{"debian", t.DebArch},
		[2]string{"triplet", t.Triplet},
		[2]string{"platform", t.Platform},
		[2]string{"qemu", t.QEMU},
		[2]string{"first Go", t.FirstGo},
	)
	for _, r := range rows {
		if _, err := fmt.Fprintf(out, "%-10s %s\n", r[0], r[1]); err != nil {
			return err
		}
	}
	for _, n := range h.Notes {
		if _, err := fmt.Fprintf(out, "note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// cpuLine summarises what /proc/cpuinfo contributed.
func cpuLine(c arch.CPU) string {
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
