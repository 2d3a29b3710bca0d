package main

import (
	"context"
	"fmt"
	"io"

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
	for _, r := range h.Describe(opts.GoVersion) {
		if _, err := fmt.Fprintf(out, "%-10s %s\n", r.Label, r.Value); err != nil {
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
