package runner

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner/doctor"
)

// DoctorOptions are how the host checks are asked for.
type DoctorOptions struct {
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

// Doctor is `bootstrap doctor`: it loads the recipe at path, prints the
// host checks on out and, with Install, sets up what is missing (Debian
// packages with apt-get; under Emulate, emulation) and checks again. It
// returns an error wrapping ErrHostChecks when anything is still missing,
// and other errors when the recipe cannot be loaded or apt-get fails.
func Doctor(ctx context.Context, path string, opts DoctorOptions, out io.Writer) error {
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
	// Optional tools only here, not in run's preflight: no step needs them.
	rep.Results = append(rep.Results, doctor.Optional(exec.LookPath)...)
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
		return fmt.Errorf("%s: %d missing%s: %w", path, len(failed), hint, ErrHostChecks)
	}
	return nil
}

// installEmulation sets this host up for an emulated run of the target.
func installEmulation(ctx context.Context, opts DoctorOptions, out io.Writer) error {
	h, err := arch.DetectHost()
	if err != nil {
		return err
	}
	t := h.Target
	if opts.Target != "" {
		var ok bool
		if t, ok = arch.Lookup(opts.Target); !ok {
			return &UsageError{Err: fmt.Errorf("unknown target %q", opts.Target)}
		}
	}
	fmt.Fprintf(out, "setting up emulation of %s\n", t.Name)
	return doctor.InstallEmulation(ctx, h, t, "", out)
}
