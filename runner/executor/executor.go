// Package executor decides where a run step's commands execute. The
// scheduler hands a step's command to an Executor and never knows whether
// it runs on this host, in a root file system of another architecture
// entered with chroot and run by qemu-user through binfmt_misc, or (later)
// on a board over SSH. Each implementation owns its set-up and tear-down
// and names what it adds to the signature of every step it runs.
//
// Fetch and patch steps never go through an executor: they are bootstrap's
// own Go code and run on the host at native speed.
//
// The interface is the few verbs every place offers (run a script, run a
// command for its output, find a program, read a file) plus the inputs the
// place adds to signatures, so a board reached over SSH slots in beside
// Chroot: its Run and Output are ssh sessions running the same shell
// command lines, LookPath and ReadFile go through them too, Inputs is the
// board's dpkg package list, and the work dir is shared at the same path
// (NFS or sshfs) or synced before and after each step.
package executor

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/porterkit/bootstrap/runner/execstep"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/require"
	"github.com/porterkit/bootstrap/runner/sandbox"
)

// The keys an executor adds to the signature inputs of the steps it runs,
// spelled once: status and explain name and diff them.
const (
	// InputExecutor says where a step runs ("chroot", "chroot linux32").
	InputExecutor = "executor"
	// InputRootfsPackages is a root file system's package list, one
	// "name:arch version" line per package.
	InputRootfsPackages = "rootfs.packages"
	// InputSandbox is the sandbox's rules (sandbox.Version) on every run
	// step that runs in one; absent under --no-sandbox.
	InputSandbox = "sandbox"
)

// A package-list input that is not a package list: the tree this cache
// lacks, with why. No package line starts with "(".
const (
	missingTreeOpen  = "(not in this cache: "
	missingTreeClose = ")"
)

// MissingTree is the InputRootfsPackages value that stands for a tree the
// cache does not hold, so a plan can name that instead of a package diff.
func MissingTree(why error) string {
	return missingTreeOpen + why.Error() + missingTreeClose
}

// TreeMissing reports whether an InputRootfsPackages value is MissingTree's,
// and returns the reason it carries.
func TreeMissing(packages string) (why string, missing bool) {
	rest, ok := strings.CutPrefix(packages, missingTreeOpen)
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(rest, missingTreeClose), true
}

// Executor runs commands in one place.
type Executor interface {
	// Name is a short description for logs, like "host" or
	// "chroot bookworm ppc64el".
	Name() string
	// Inputs are the values this place adds to the signature of every run
	// step; nil for the host, so that native checkpoints stay valid.
	Inputs() map[string]string
	// Run runs a step's script there and waits for it, with execstep.Run's
	// contract (an *execstep.ExitError when the script fails).
	Run(ctx context.Context, c execstep.Command) error
	// Output runs argv there with env and returns what it printed
	// (stdout and stderr); a non-zero exit is an error.
	Output(ctx context.Context, argv, env []string) ([]byte, error)
	// LookPath finds a program on env's PATH as that place sees it.
	LookPath(ctx context.Context, name string, env []string) (string, error)
	// ReadFile reads a file as that place sees it.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// Facts describe the place for the provenance record, beside the
	// host's own facts; nil for the host.
	Facts() []provenance.ResourceDescriptor
	// Close releases what Open set up; the place is unusable after it.
	Close() error
}

// Host runs commands directly on this machine.
type Host struct {
	// Local gives the host's Output, LookPath and ReadFile.
	require.Local
	// Sandbox confines every run step (see runner/sandbox); false runs
	// them as they are (--no-sandbox, and the scheduler's unit tests).
	Sandbox bool
	// Self is the bootstrap binary that sets the sandbox up; default
	// /proc/self/exe. Tests set it to a binary that calls sandbox.Enter.
	Self string
	// Hide are host directories a sandboxed step must not see besides the
	// work dir: the cache and the caller's home (keys live there).
	Hide []string
	// WorkDir is the run's work dir, which sandboxed steps see at
	// sandbox.WorkRoot: Output, LookPath and ReadFile, which run on the
	// host itself, map paths below WorkRoot (a requires: tool built by
	// the chain, a PATH entry) back to it.
	WorkDir string
}

// real maps a path below sandbox.WorkRoot to the work dir, when steps
// are sandboxed and the work dir is known.
func (h Host) real(p string) string {
	if !h.Sandbox || h.WorkDir == "" {
		return p
	}
	if p == sandbox.WorkRoot {
		return h.WorkDir
	}
	if rest, ok := strings.CutPrefix(p, sandbox.WorkRoot+"/"); ok {
		return filepath.Join(h.WorkDir, rest)
	}
	return p
}

// realEnv maps every path of env's values (PATH-style lists included).
func (h Host) realEnv(env []string) []string {
	if !h.Sandbox || h.WorkDir == "" {
		return env
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		parts := strings.Split(v, ":")
		for i := range parts {
			parts[i] = h.real(parts[i])
		}
		out = append(out, k+"="+strings.Join(parts, ":"))
	}
	return out
}

// Output implements Executor on the host, with paths as steps see them.
func (h Host) Output(ctx context.Context, argv, env []string) ([]byte, error) {
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = h.real(a)
	}
	return h.Local.Output(ctx, args, h.realEnv(env))
}

// LookPath implements Executor on the host, with paths as steps see
// them; the path found is returned as steps see it.
func (h Host) LookPath(ctx context.Context, name string, env []string) (string, error) {
	p, err := h.Local.LookPath(ctx, h.real(name), h.realEnv(env))
	if err != nil || !h.Sandbox || h.WorkDir == "" {
		return p, err
	}
	if rest, ok := strings.CutPrefix(p, filepath.Clean(h.WorkDir)+"/"); ok {
		return filepath.Join(sandbox.WorkRoot, rest), nil
	}
	return p, nil
}

// ReadFile implements Executor on the host, with paths as steps see them.
func (h Host) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return h.Local.ReadFile(ctx, h.real(path))
}

// Name implements Executor.
func (h Host) Name() string {
	if !h.Sandbox {
		return "host (no sandbox)"
	}
	return "host"
}

// Inputs implements Executor: the sandbox's version, nothing else, so
// that turning it on or off reruns each step once.
func (h Host) Inputs() map[string]string {
	if !h.Sandbox {
		return nil
	}
	return map[string]string{InputSandbox: sandbox.Version}
}

// Facts implements Executor: provenance.HostFacts already describes the
// host.
func (Host) Facts() []provenance.ResourceDescriptor { return nil }

// Close implements Executor: the host has nothing to release.
func (Host) Close() error { return nil }

// Run implements Executor: in a sandbox when h.Sandbox and c is a run
// step.
func (h Host) Run(ctx context.Context, c execstep.Command) error {
	if !h.Sandbox || c.Sandbox == nil {
		return execstep.Run(ctx, c)
	}
	spec := sandbox.Spec{Confine: true, Privileged: c.Sandbox.Privileged, Network: c.Sandbox.Network,
		Binds: c.Sandbox.Binds(), Dir: c.Dir, Argv: execstep.Argv(c.Script, c.Shell), WorkRoot: c.Sandbox.Root}
	spec.Hide = append(append([]string(nil), h.Hide...), c.Sandbox.WorkDir)
	return runSandboxed(ctx, h.Self, spec, c)
}

// runSandboxed runs c through bootstrap's sandbox entry with spec.
func runSandboxed(ctx context.Context, self string, spec sandbox.Spec, c execstep.Command) error {
	argv, env, err := sandbox.Wrap(self, spec, c.Env)
	if err != nil {
		return err
	}
	// The sandbox enters spec.Dir itself, which may exist only inside
	// (below sandbox.WorkRoot, or in a root file system).
	c.Argv, c.Env, c.Dir = argv, env, "/"
	c.Attr = func(a *syscall.SysProcAttr) { sandbox.SysProcAttr(a, spec) }
	err = execstep.Run(ctx, c)
	var ee *execstep.ExitError
	if err != nil && ctx.Err() == nil && !errors.As(err, &ee) {
		return sandbox.StartError(err)
	}
	return err
}
