package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/rootfs"
	"github.com/porterkit/bootstrap/runner/sandbox"
)

// Config says where a run's steps execute: on this host, or (Emulate) in
// a root file system of the target's architecture.
type Config struct {
	// Emulate runs steps in a root file system built from the recipe's
	// host.packages and host.suite for the target's Debian architecture.
	Emulate bool
	// Rootfs is a ready tree to use instead (implies Emulate).
	Rootfs string
	// DebianMirror is the archive the tree is built from; empty means
	// mmdebstrap's default.
	DebianMirror string
	// CacheDir is where built trees are kept (rootfs.Load, Ensure).
	CacheDir string
	// NoSandbox runs steps unconfined (--no-sandbox, for debugging): it
	// is recorded in the provenance and changes every run step's
	// signature.
	NoSandbox bool
	// Hide are host directories no sandboxed step may see besides the
	// work dir: the download cache (bootstrap's to fill and verify).
	Hide []string
}

// Host is the executor for this machine running the steps of workDir:
// sandboxed unless NoSandbox, hiding c.Hide and the caller's home (where
// keys live).
func (c Config) Host(workDir string) Host {
	hide := append([]string(nil), c.Hide...)
	if home, err := os.UserHomeDir(); err == nil && filepath.Clean(home) != "/" {
		hide = append(hide, home)
	}
	return Host{Sandbox: !c.NoSandbox, Hide: hide, WorkDir: workDir}
}

// Root is where run steps see the work dir: sandbox.WorkRoot, or ""
// (the work dir's own path) under NoSandbox. It is plan.Options.Root.
func (c Config) Root() string {
	if c.NoSandbox {
		return ""
	}
	return sandbox.WorkRoot
}

// Emulating says whether steps run in a root file system.
func (c Config) Emulating() bool { return c.Emulate || c.Rootfs != "" }

// Inputs returns the signature inputs of the place as it is now, without
// building anything: nil on the host; under emulation those of the cached
// tree, or, when it is not built yet (ready false), a placeholder that
// makes every run step pending with a reason that says so.
func (c Config) Inputs(r *recipe.Recipe, h arch.Host, t arch.Target) (in map[string]string, ready bool) {
	if !c.Emulating() {
		return c.Host("").Inputs(), true
	}
	ch := &Chroot{Linux32: linux32(h, t), Sandbox: !c.NoSandbox}
	tree, err := c.cached(r, h, t)
	if err != nil {
		// Everything but the package list is known without the tree, so
		// a plan against a cache that lacks it names only that.
		in := ch.inputs()
		in[InputRootfsPackages] = MissingTree(err)
		return in, false
	}
	ch.Rootfs = tree
	return ch.Inputs(), true
}

// Open readies the place for a run of r for t in workDir and returns it;
// the caller closes it. On the host that costs nothing. Under emulation
// it needs root; the tree is built into the cache when it is not there
// (minutes, unless offline, which forbids it; the log is
// <work>/logs/rootfs.log and out gets a line before and after), then the
// work dir's overlay layer is set up.
func (c Config) Open(ctx context.Context, r *recipe.Recipe, h arch.Host, t arch.Target, workDir string, offline bool, out io.Writer) (Executor, error) {
	if !c.Emulating() {
		return c.Host(workDir), nil
	}
	if os.Geteuid() != 0 {
		return nil, ErrNeedsRoot
	}
	var tree *rootfs.Rootfs
	var err error
	if c.Rootfs != "" {
		tree, err = rootfs.FromDir(c.Rootfs)
	} else {
		tree, err = c.ensure(ctx, r, h, t, workDir, offline, out)
	}
	if err != nil {
		return nil, err
	}
	x, err := NewChroot(tree, workDir)
	if err != nil {
		return nil, err
	}
	x.Linux32, x.Sandbox = linux32(h, t), !c.NoSandbox
	x.emulator = FindEmulator(ctx, h, t, "")
	return x, nil
}

// ErrNeedsRoot is Open's error for an emulated run started by another
// user than root.
var ErrNeedsRoot = errors.New("--emulate needs root: steps run under chroot, with /proc, /sys, /dev and the work dir mounted in a private mount namespace")

// RootfsSpec is the tree an emulated run of r for target t needs: the
// recipe's packages (which natively are the host's) for the target's
// Debian architecture.
func RootfsSpec(r *recipe.Recipe, h arch.Host, t arch.Target, mirror string) (rootfs.Spec, error) {
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

// cached is the tree the run would use as the cache (or --rootfs) has it
// now.
func (c Config) cached(r *recipe.Recipe, h arch.Host, t arch.Target) (*rootfs.Rootfs, error) {
	if c.Rootfs != "" {
		return rootfs.FromDir(c.Rootfs)
	}
	spec, err := RootfsSpec(r, h, t, c.DebianMirror)
	if err != nil {
		return nil, err
	}
	return rootfs.Load(c.CacheDir, spec)
}

// ensure returns the cached tree, building it first when it is missing.
func (c Config) ensure(ctx context.Context, r *recipe.Recipe, h arch.Host, t arch.Target, workDir string, offline bool, out io.Writer) (*rootfs.Rootfs, error) {
	spec, err := RootfsSpec(r, h, t, c.DebianMirror)
	if err != nil {
		return nil, err
	}
	if tree, err := rootfs.Load(c.CacheDir, spec); err == nil || !errors.Is(err, rootfs.ErrNotBuilt) {
		return tree, err
	}
	logPath := filepath.Join(workDir, "logs", "rootfs.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("root file system log: %w", err)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("root file system log: %w", err)
	}
	defer log.Close()
	fmt.Fprintf(out, "%s root file system %s: building with mmdebstrap (log: %s)\n", time.Now().UTC().Format("15:04:05"), spec, logPath)
	start := time.Now()
	tree, _, err := rootfs.Ensure(ctx, c.CacheDir, spec, rootfs.EnsureOptions{Log: log, Offline: offline})
	if err != nil {
		return nil, fmt.Errorf("root file system for %s: %w; log: %s", t.Name, err, logPath)
	}
	fmt.Fprintf(out, "%s root file system ready: %d packages in %s\n", time.Now().UTC().Format("15:04:05"), len(tree.Packages), time.Since(start).Round(time.Second))
	return tree, nil
}

// linux32 says whether t's tree must run under the 32-bit personality on
// host h: a 32-bit target this 64-bit kernel runs itself.
func linux32(h arch.Host, t arch.Target) bool {
	return t.Bits == 32 && h.KernelBits == 64 && h.KernelRuns(t)
}

// Facts implements Executor: the tree as a whole, by the tree hash of its
// content (kept beside the cached tree, so computed once), with its
// package list's sha256 as an annotation, and each package as a package
// URL. The steps ran in this tree: its packages are what they used,
// beside the host's kernel (and qemu).
func (c *Chroot) Facts() []provenance.ResourceDescriptor {
	sum := sha256.Sum256([]byte(c.Rootfs.Identity()))
	a := map[string]any{"packages": len(c.Rootfs.Packages), "linux32": c.Linux32, "packageListSha256": hex.EncodeToString(sum[:])}
	d := provenance.ResourceDescriptor{Name: "rootfs " + c.Rootfs.Spec.Name(), URI: "rootfs:" + c.Rootfs.Spec.String(), Annotations: a}
	if tree, err := c.Rootfs.TreeDigest(); err == nil {
		d.Digest = map[string]string{provenance.DigestTreeHash: strings.TrimPrefix(tree, "sha256:")}
	} else {
		a["treeDigestError"] = err.Error() // facts are evidence: say what could not be taken
	}
	out := []provenance.ResourceDescriptor{d}
	if c.emulator != nil {
		out = append(out, c.emulator.fact())
	}
	for _, pkg := range c.Rootfs.Packages {
		out = append(out, provenance.ResourceDescriptor{Name: "rootfs package " + pkg.Name,
			URI: "pkg:deb/debian/" + pkg.Name + "@" + pkg.Version + "?arch=" + pkg.Arch})
	}
	return out
}

// Close implements Executor: nothing is left to release, since every
// mount lives in a step's own namespace and dies with it; the overlay
// layer stays in the work dir for the next step and the next run.
func (c *Chroot) Close() error { return nil }
