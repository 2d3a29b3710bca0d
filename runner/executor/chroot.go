package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/porterkit/bootstrap/runner/execstep"
	"github.com/porterkit/bootstrap/runner/require"
	"github.com/porterkit/bootstrap/runner/rootfs"
	"github.com/porterkit/bootstrap/runner/sandbox"
	"github.com/porterkit/bootstrap/runner/state"
)

// Chroot runs commands inside a root file system of the target's
// architecture: on a foreign target, every program in it is run by
// qemu-user through a binfmt_misc handler registered with the F flag (the
// kernel holds the interpreter open, so it need not exist inside).
//
// Each command starts in the namespaces of runner/sandbox (the
// re-executed bootstrap sets them up and becomes the step's shell), where
// the cached tree is mounted as the lower layer of an overlay whose upper
// layer lives in the work dir, so the cache stays pristine and shared. A
// sandboxed run step sees that tree read-only, with the same view of the
// work dir as on the host (its own trees writable, what it needs
// read-only, the rest hidden), /sys read-only and a minimal /dev; the
// work dir is seen at sandbox.WorkRoot, as on the host (at its own path
// only under --no-sandbox). A privileged step, any step under --no-sandbox, and
// Output, LookPath and ReadFile get the tree as it was before the sandbox:
// writable (what they write outside the work dir persists from one step
// to the next), with the host's /sys, /dev and the whole work dir. /proc
// is always the step's own. Nothing is mounted in the host's namespace,
// and nothing outlives the step's shell: when it dies — also by SIGKILL,
// which the kernel sends it when the run dies — the kernel kills every
// process left in its PID namespace, and the mounts go with the last of
// them.
type Chroot struct {
	// Rootfs is the tree (the overlay's lower layer).
	Rootfs *rootfs.Rootfs
	// WorkDir is bind-mounted at sandbox.WorkRoot inside (at its own
	// path under --no-sandbox).
	WorkDir string
	// Self is the bootstrap binary that enters the tree; default
	// /proc/self/exe. Tests set it to a binary that calls Enter.
	Self string
	// Sandbox confines every run step as on the host (see runner/sandbox):
	// the tree read-only, only the step's own trees writable. Without it
	// (--no-sandbox) the tree's overlay and the whole work dir are
	// writable, and /sys and /dev are the host's.
	Sandbox bool
	// Linux32 runs every command under the 32-bit personality: set for a
	// 32-bit tree on a 64-bit kernel that runs it without an emulator
	// (i386 on x86_64, armhf on arm64), which would otherwise report its
	// own 64-bit machine to uname -m. qemu-user reports the guest's.
	Linux32 bool
	// layer holds the overlay's upper and work dirs and the mount point.
	layer string
	// emulator runs the tree's programs; nil when the kernel does.
	emulator *Emulator
}

// NewChroot prepares the overlay layer of r in workDir (<work>/rootfs).
// When the tree's identity changed since the layer was made, the layer is
// emptied: what steps left in an old tree must not leak into a new one.
func NewChroot(r *rootfs.Rootfs, workDir string) (*Chroot, error) {
	c := &Chroot{Rootfs: r, WorkDir: workDir, layer: filepath.Join(workDir, "rootfs")}
	sum := sha256.Sum256([]byte(r.Identity()))
	id := hex.EncodeToString(sum[:])
	idFile := filepath.Join(c.layer, "identity")
	if old, err := os.ReadFile(idFile); err != nil || strings.TrimSpace(string(old)) != id {
		if err := os.RemoveAll(c.layer); err != nil {
			return nil, fmt.Errorf("reset the root file system layer: %w", err)
		}
	}
	for _, d := range []string{"upper", "overlay-work", "mnt"} {
		if err := os.MkdirAll(filepath.Join(c.layer, d), 0o755); err != nil {
			return nil, fmt.Errorf("root file system layer: %w", err)
		}
	}
	if err := state.WriteFileAtomic(idFile, []byte(id+"\n")); err != nil {
		return nil, err
	}
	return c, nil
}

// Name implements Executor.
func (c *Chroot) Name() string {
	return fmt.Sprintf("chroot %s (%s)", c.Rootfs.Spec.Name(), c.Rootfs.Dir)
}

// Inputs implements Executor: the tree's package set (the exact versions
// dpkg installed). The tree's path is left out: where the cache lives does
// not change what runs.
func (c *Chroot) Inputs() map[string]string {
	in := c.inputs()
	in[InputRootfsPackages] = c.Rootfs.Identity()
	return in
}

// inputs are the inputs that do not depend on the tree's contents.
func (c *Chroot) inputs() map[string]string {
	in := map[string]string{InputExecutor: "chroot"}
	if c.Sandbox {
		in[InputSandbox] = sandbox.Version
	}
	if c.Linux32 {
		in[InputExecutor] = "chroot linux32"
	}
	return in
}

// Run implements Executor. A privileged step, or any under --no-sandbox,
// gets the tree as before the sandbox: writable, with the host's /sys,
// /dev and the whole work dir.
func (c *Chroot) Run(ctx context.Context, cmd execstep.Command) error {
	spec := c.spec(cmd.Dir, execstep.Argv(cmd.Script, cmd.Shell))
	if c.Sandbox && cmd.Sandbox != nil && !cmd.Sandbox.Privileged {
		spec.Confine, spec.Network = true, cmd.Sandbox.Network
		spec.Binds = append([]sandbox.Bind{{Src: "/sys", RO: true}}, cmd.Sandbox.Binds()...)
		spec.WorkRoot = cmd.Sandbox.Root
	}
	return runSandboxed(ctx, c.Self, spec, cmd)
}

// Output implements Executor.
func (c *Chroot) Output(ctx context.Context, argv, env []string) ([]byte, error) {
	var out bytes.Buffer
	err := runSandboxed(ctx, c.Self, c.spec("/", argv), execstep.Command{Env: env, Dir: "/", Output: &out})
	var ee *execstep.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), fmt.Errorf("%s in %s: %w: %s", argv[0], c.Rootfs.Spec.Arch, err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), err
}

// LookPath implements Executor: the shell inside looks the name up.
func (c *Chroot) LookPath(ctx context.Context, name string, env []string) (string, error) {
	out, err := c.Output(ctx, []string{"/bin/sh", "-c", `command -v -- "$1"`, "sh", name}, env)
	p := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("tool %s not found on PATH=%s in the root file system", name, require.EnvValue(env, "PATH"))
	}
	return p, nil
}

// ReadFile implements Executor by reading the file inside (through
// symbolic links as the tree resolves them).
func (c *Chroot) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return c.Output(ctx, []string{"/bin/cat", "--", path}, []string{"PATH=/usr/bin:/bin"})
}

// spec is the unconfined entry into the tree: the overlay, with /sys and
// /dev bound at the same paths as outside and the work dir where steps
// see it (sandbox.WorkRoot; its own path under --no-sandbox), so ${{ }}
// paths mean the same in steps, in Output, LookPath and ReadFile, and in
// privileged steps.
func (c *Chroot) spec(dir string, argv []string) sandbox.Spec {
	s := sandbox.Spec{
		Lower: c.Rootfs.Dir,
		Upper: filepath.Join(c.layer, "upper"), Work: filepath.Join(c.layer, "overlay-work"),
		Mount: filepath.Join(c.layer, "mnt"),
		Binds: []sandbox.Bind{{Src: "/sys"}, {Src: "/dev"}, {Src: c.WorkDir}}, Dir: dir, Argv: argv, Linux32: c.Linux32,
	}
	if c.Sandbox {
		s.Binds[2].Dst, s.WorkRoot = sandbox.WorkRoot, sandbox.WorkRoot
	}
	return s
}
