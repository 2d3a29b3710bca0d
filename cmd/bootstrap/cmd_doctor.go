package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
)

// doctorOptions are the flags of `bootstrap doctor`.
type doctorOptions = runner.DoctorOptions

// errChecksFailed is wrapped by the errors of runDoctor and of a run's
// host checks when the host lacks something; it exits 2.
var errChecksFailed = runner.ErrHostChecks

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "check this host against a recipe's host section (arch, tools, packages, disk…)",
		ArgsUsage: "RECIPE",
		Description: "Prints one line per check: ok, MISSING or unknown (could not tell).\n" +
			"Exits 2 when something is MISSING. --install apt-gets missing Debian packages.\n" +
			"For a 32-bit target on a 64-bit kernel of its family (armhf on arm64, 386 on\n" +
			"x86_64) it asks the kernel whether the 32-bit personality (linux32) works and\n" +
			"uname -m says armv8l/i686 under it, and runs a minimal program of the target\n" +
			"(a CPU without AArch32, a kernel without CONFIG_COMPAT); a 32-bit userland on\n" +
			"a 64-bit kernel must run bootstrap under linux32.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "install", Usage: "install missing Debian packages with apt-get (as root), then check again"},
			&cli.StringFlag{Name: "workdir", Usage: "work `DIR` whose file system needs the free disk", DefaultText: "./.bootstrap/<recipe name>"},
			&cli.StringFlag{Name: "target", Usage: "check that this host can build `TARGET` natively (or, with --emulate, run its programs)"},
			&cli.BoolFlag{Name: "emulate", Usage: "check for a run with --emulate: mmdebstrap, binfmt_misc and a qemu handler with the F flag; --install sets them up"},
			&cli.StringFlag{Name: "rootfs", Usage: "with --emulate, the run will use this ready root file system `DIR`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &usageError{msg: "usage: bootstrap doctor RECIPE [--install] [--workdir DIR] [--target T]"}
			}
			opts := doctorOptions{Install: c.Bool("install"), WorkDir: c.String("workdir"), Target: c.String("target"),
				Emulate: c.Bool("emulate") || c.String("rootfs") != "", Rootfs: c.String("rootfs")}
			return runDoctor(c.Context, opts, c.App.Writer, c.Args().First())
		},
	}
}

// runDoctor is runner.Doctor: it returns errChecksFailed (wrapped) when
// anything is still missing.
func runDoctor(ctx context.Context, opts doctorOptions, out io.Writer, path string) error {
	return runner.Doctor(ctx, path, opts, out)
}
