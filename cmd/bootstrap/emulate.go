package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/rootfs"
)

// emulateOptions say whether run steps execute in a root file system of
// the target's architecture, and which.
type emulateOptions struct {
	// Emulate runs steps in a root file system built from the recipe's
	// host.packages and host.suite for the target's Debian architecture.
	Emulate bool
	// Rootfs is a ready tree to use instead (implies Emulate).
	Rootfs string
	// DebianMirror is the archive the tree is built from.
	DebianMirror string
	// Cache is the --cache flag of commands that have it.
	Cache string
}

func emulateOptionsFrom(c *cli.Context) emulateOptions {
	o := emulateOptions{Emulate: c.Bool("emulate"), Rootfs: c.String("rootfs"), DebianMirror: c.String("debian-mirror"), Cache: c.String("cache")}
	if o.DebianMirror == "" {
		o.DebianMirror = os.Getenv("BOOTSTRAP_DEBIAN_MIRROR")
	}
	return o
}

func (o emulateOptions) emulating() bool { return o.Emulate || o.Rootfs != "" }

// rootfsSpec is the tree an emulated run of r for target t needs: the
// recipe's packages (which natively are the host's) for the target's
// Debian architecture.
func rootfsSpec(r *recipe.Recipe, h arch.Host, t arch.Target, mirror string) (rootfs.Spec, error) {
	s := rootfs.Spec{Suite: r.Host.Suite.Value, Arch: t.DebArch, Mirror: mirror}
	pkgs, err := plan.HostPackages(r, h, t)
	if err != nil {
		return s, err
	}
	for _, p := range pkgs {
		s.Packages = append(s.Packages, p.Value)
	}
	return s.Normalize(), nil
}

// cachedInputs are the signature inputs of the tree the run would use as
// the cache has it now; when it is not built yet, a placeholder that makes
// every run step pending with a reason that says so.
func (o emulateOptions) cachedInputs(p *plan.Plan, h arch.Host) map[string]string {
	r, err := o.cachedRootfs(p, h)
	if err != nil {
		return map[string]string{"executor": "chroot", "rootfs.packages": "(" + err.Error() + ")"}
	}
	t, _ := arch.Lookup(p.Target)
	return (&executor.Chroot{Rootfs: r, Linux32: linux32(h, t)}).Inputs()
}

func (o emulateOptions) cachedRootfs(p *plan.Plan, h arch.Host) (*rootfs.Rootfs, error) {
	if o.Rootfs != "" {
		return rootfs.FromDir(o.Rootfs)
	}
	cache, err := cacheDir(o.Cache)
	if err != nil {
		return nil, err
	}
	spec, err := o.spec(p, h)
	if err != nil {
		return nil, err
	}
	return rootfs.Load(cache, spec)
}

// prepare readies the chroot executor for a run: the tree is built into
// the cache when it is not there (minutes; its log is
// <work>/logs/rootfs.log), then the work dir's overlay layer is set up.
func (o emulateOptions) prepare(ctx context.Context, p *plan.Plan, h arch.Host, offline bool, out io.Writer) (*executor.Chroot, error) {
	if os.Geteuid() != 0 {
		return nil, &usageError{"--emulate needs root: steps run under chroot, with /proc, /sys, /dev and the work dir mounted in a private mount namespace"}
	}
	var r *rootfs.Rootfs
	var err error
	if o.Rootfs != "" {
		r, err = rootfs.FromDir(o.Rootfs)
	} else {
		r, err = o.ensure(ctx, p, h, offline, out)
	}
	if err != nil {
		return nil, err
	}
	x, err := executor.NewChroot(r, p.WorkDir)
	if err != nil {
		return nil, err
	}
	t, _ := arch.Lookup(p.Target)
	x.Linux32 = linux32(h, t)
	return x, nil
}

// linux32 says whether t's tree must run under the 32-bit personality on
// host h: a 32-bit target this 64-bit kernel runs itself.
func linux32(h arch.Host, t arch.Target) bool {
	return t.Bits == 32 && h.KernelBits == 64 && h.KernelRuns(t)
}

func (o emulateOptions) ensure(ctx context.Context, p *plan.Plan, h arch.Host, offline bool, out io.Writer) (*rootfs.Rootfs, error) {
	cache, err := cacheDir(o.Cache)
	if err != nil {
		return nil, err
	}
	spec, err := o.spec(p, h)
	if err != nil {
		return nil, err
	}
	if r, err := rootfs.Load(cache, spec); err == nil || !errors.Is(err, rootfs.ErrNotBuilt) {
		return r, err
	}
	logPath := filepath.Join(p.WorkDir, "logs", "rootfs.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	fmt.Fprintf(out, "%s root file system %s: building with mmdebstrap (log: %s)\n", time.Now().UTC().Format("15:04:05"), spec, logPath)
	start := time.Now()
	r, _, err := rootfs.Ensure(ctx, cache, spec, rootfs.EnsureOptions{Log: log, Offline: offline})
	if err != nil {
		return nil, fmt.Errorf("root file system for %s: %w; log: %s", p.Target, err, logPath)
	}
	fmt.Fprintf(out, "%s root file system ready: %d packages in %s\n", time.Now().UTC().Format("15:04:05"), len(r.Packages), time.Since(start).Round(time.Second))
	return r, nil
}

// spec is the tree the plan's target needs on host h.
func (o emulateOptions) spec(p *plan.Plan, h arch.Host) (rootfs.Spec, error) {
	t, _ := arch.Lookup(p.Target)
	return rootfsSpec(p.Recipe, h, t, o.DebianMirror)
}
