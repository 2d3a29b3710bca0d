package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/doctor"
)

// doctorOptions are the flags of `bootstrap doctor`.
type doctorOptions struct {
	// Install runs apt-get for missing Debian packages, then checks again.
	Install bool
	// WorkDir is where free disk is measured; default
	// ./.bootstrap/<recipe name>.
	WorkDir string
	// Target is the target the run will ask for; empty means the host.
	Target string
	// Emulate checks (and with Install sets up) what an emulated run
	// needs instead of the recipe's tools and packages.
	Emulate bool
	// Rootfs is a ready tree (--rootfs), which makes mmdebstrap
	// unnecessary.
	Rootfs string
}

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
			&cli.StringFlag{Name: "workdir", Usage: "work `DIR` whose file system needs the free disk (default ./.bootstrap/<recipe name>)"},
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

// runDoctor loads the recipe, prints the checks and, with --install,
// installs missing packages and checks again. It returns errChecksFailed
// (wrapped) when anything is still missing, and other errors when the
// recipe cannot be loaded or apt-get fails.
func runDoctor(ctx context.Context, opts doctorOptions, out io.Writer, path string) error {
	r, err := recipe.Load(path)
	if err != nil {
		return err
	}
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Join(".bootstrap", r.Name.Value)
	}
	dopts := doctor.Options{WorkDir: opts.WorkDir, Target: opts.Target, Emulate: opts.Emulate, RootfsGiven: opts.Rootfs != ""}
	rep, err := doctor.Check(ctx, r, dopts)
	if err != nil {
		return err
	}
	if err := rep.Print(out); err != nil {
		return err
	}
	if opts.Emulate && opts.Install && !rep.OK() {
		if err := installEmulation(ctx, opts, out); err != nil {
			return err
		}
		if rep, err = doctor.Check(ctx, r, dopts); err != nil {
			return err
		}
		if err := rep.Print(out); err != nil {
			return err
		}
	}
	if pkgs := rep.MissingPackages(); opts.Install && len(pkgs) > 0 {
		fmt.Fprintf(out, "installing: %s\n", strings.Join(pkgs, " "))
		if err := doctor.Install(ctx, pkgs, out); err != nil {
			return err
		}
		if rep, err = doctor.Check(ctx, r, dopts); err != nil {
			return err
		}
		if err := rep.Print(out); err != nil {
			return err
		}
	}
	if failed := rep.Failed(); len(failed) > 0 {
		hint := ""
		if pkgs := rep.MissingPackages(); len(pkgs) > 0 && !opts.Install {
			hint = fmt.Sprintf(" (bootstrap doctor --install %s, or apt-get install -y %s)", path, strings.Join(pkgs, " "))
		}
		return fmt.Errorf("%s: %d missing%s: %w", path, len(failed), hint, errChecksFailed)
	}
	return nil
}

// installEmulation sets this host up for an emulated run of the target.
func installEmulation(ctx context.Context, opts doctorOptions, out io.Writer) error {
	h, err := arch.DetectHost()
	if err != nil {
		return err
	}
	t := h.Target
	if opts.Target != "" {
		var ok bool
		if t, ok = arch.Lookup(opts.Target); !ok {
			return &usageError{fmt.Sprintf("unknown target %q", opts.Target)}
		}
	}
	fmt.Fprintf(out, "setting up emulation of %s\n", t.Name)
	return doctor.InstallEmulation(ctx, h, t, "", out)
}
