package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/source/fetch"
	"github.com/porterkit/bootstrap/runner/state"
)

// EnsureOptions control Ensure.
type EnsureOptions struct {
	// Log receives mmdebstrap's output and bootstrap's own lines about the
	// build.
	Log io.Writer
	// Offline forbids building: the tree must be in the cache already.
	Offline bool
	// Mmdebstrap is the program to run; default "mmdebstrap" on PATH.
	Mmdebstrap string
}

// Ensure returns the cached root file system of s, building it first when
// the cache has none. Concurrent callers for the same spec wait for one
// another (a lock per cache entry), so a tree is built once. A build that
// is interrupted leaves only a temporary directory, removed by the next
// build; the entry appears complete or not at all. built reports whether
// this call made the tree.
func Ensure(ctx context.Context, cacheDir string, s Spec, o EnsureOptions) (r *Rootfs, built bool, err error) {
	s = s.Normalize()
	if o.Log == nil {
		o.Log = io.Discard
	}
	if r, err := Load(cacheDir, s); err == nil || !errors.Is(err, ErrNotBuilt) {
		return r, false, err
	}
	if o.Offline {
		return nil, false, fmt.Errorf("%s is not in the cache and --offline forbids building it: run `bootstrap rootfs` (or the same run) once with network access", s)
	}
	unlock, err := fetch.LockEntry(ctx, cacheDir, "rootfs-"+s.Name(), "root file system "+s.Name(), o.Log)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	// Another process may have built it while this one waited.
	if r, err := Load(cacheDir, s); err == nil || !errors.Is(err, ErrNotBuilt) {
		return r, false, err
	}
	if err := build(ctx, cacheDir, s, o); err != nil {
		return nil, false, err
	}
	r, err = Load(cacheDir, s)
	return r, err == nil, err
}

// build runs mmdebstrap into a temporary directory and renames the result
// into place once its package list is written.
func build(ctx context.Context, cacheDir string, s Spec, o EnsureOptions) error {
	prog := o.Mmdebstrap
	if prog == "" {
		prog = "mmdebstrap"
	}
	path, err := exec.LookPath(prog)
	if err != nil {
		return fmt.Errorf("building %s root file system needs mmdebstrap, which is not installed: apt-get install mmdebstrap (or `bootstrap doctor --install --emulate RECIPE`)", arch.WithArticle(s.Arch))
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("building a root file system needs root (mmdebstrap --mode=root, then chroot); run bootstrap as root or give a ready tree with --rootfs DIR")
	}
	entry := entryDir(cacheDir, s)
	tmp := filepath.Join(filepath.Dir(entry), "."+filepath.Base(entry)+".tmp")
	if err := os.RemoveAll(tmp); err != nil { // from a build that was killed
		return fmt.Errorf("remove an unfinished root file system: %w", err)
	}
	debs := filepath.Join(cacheDir, "rootfs", "debs")
	for _, d := range []string{tmp, debs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	removeStaleCopies(debs, 24*time.Hour)
	root := filepath.Join(tmp, "root")
	args := []string{
		"--mode=root",
		"--variant=" + s.Variant,
		"--architectures=" + strings.Join(s.Architectures(), ","),
		// The downloaded .debs are kept in the cache, so a tree that
		// differs by one package downloads one package.
		"--skip=essential/unlink",
		"--setup-hook=" + syncInHook(debs),
		"--customize-hook=" + syncOutHook(debs),
		"--aptopt=Acquire::Retries \"3\"",
	}
	if len(s.Packages) > 0 {
		args = append(args, "--include="+strings.Join(s.Packages, ","))
	}
	args = append(args, s.Suite, root, s.Mirror)
	fmt.Fprintf(o.Log, "# building root file system %s\n# %s %s\n", s, path, strings.Join(args, " "))
	start := time.Now()
	cmd := exec.Command(path, args...)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	// mmdebstrap mounts /proc, /sys and /dev inside the tree while it
	// installs. In a mount namespace of its own those mounts vanish with
	// it, even if this process is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := runGroup(ctx, cmd); err != nil {
		return fmt.Errorf("mmdebstrap %s: %w (its output is above in the log)", s, err)
	}
	pkgs, err := ReadStatus(filepath.Join(root, "var", "lib", "dpkg", "status"))
	if err != nil {
		return fmt.Errorf("root file system %s: %w", s, err)
	}
	r := &Rootfs{Spec: s, Packages: pkgs}
	if err := state.WriteFileAtomic(filepath.Join(tmp, "spec.txt"), []byte(s.String()+"\n")); err != nil {
		return err
	}
	// The tree's content identity, taken once now, while nothing else can
	// have touched it (provenance names the tree by it).
	tree, err := treehash.Sum(root)
	if err != nil {
		return fmt.Errorf("root file system %s: %w", s, err)
	}
	if err := state.WriteFileAtomic(filepath.Join(tmp, TreeName), []byte(tree+"\n")); err != nil {
		return err
	}
	if err := state.WriteFileAtomic(filepath.Join(tmp, "packages.txt"), []byte(r.Identity()+"\n")); err != nil {
		return err
	}
	if err := os.RemoveAll(entry); err != nil {
		return err
	}
	if err := os.Rename(tmp, entry); err != nil {
		return fmt.Errorf("put the root file system in place: %w", err)
	}
	fmt.Fprintf(o.Log, "# root file system %s: %d packages in %s, %s\n", s.Name(), len(pkgs), time.Since(start).Round(time.Second), entry)
	return nil
}

// runGroup runs cmd in its own process group and kills the whole group
// when ctx is cancelled.
func runGroup(ctx context.Context, cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return ctx.Err()
	}
}

// FromDir describes a root file system the user made (--rootfs DIR). Its
// identity is dpkg's package list when it has one, else a hash of the whole
// tree (a tree of a few static programs, as tests and small boards use).
func FromDir(dir string) (*Rootfs, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("root file system %s is not a directory", dir)
	}
	r := &Rootfs{Dir: abs, Spec: Spec{Suite: "local"}}
	status := filepath.Join(abs, "var", "lib", "dpkg", "status")
	if _, err := os.Stat(status); err == nil {
		if r.Packages, err = ReadStatus(status); err != nil {
			return nil, err
		}
		return r, nil
	}
	sum, err := treehash.Sum(abs)
	if err != nil {
		return nil, fmt.Errorf("root file system %s: %w", dir, err)
	}
	r.Packages = []Package{{Name: "tree", Arch: "local", Version: sum}}
	r.Tree = sum // hashed already: its identity is its content
	return r, nil
}

// syncInHook is the mmdebstrap setup hook that copies the cached .debs
// into the new tree's apt archive, so apt downloads only what is missing.
// Only complete files are copied: syncOutHook's temporary files start with
// a dot and the glob skips them.
func syncInHook(debs string) string {
	return `set -e; a="$1"/var/cache/apt/archives; mkdir -p "$a"; ` +
		`for f in ` + shellQuote(debs) + `/*.deb; do [ -e "$f" ] || continue; cp "$f" "$a"/; done`
}

// syncOutHook is the mmdebstrap customize hook that keeps the tree's
// downloaded .debs in the cache. Two root file systems may be built at
// once into the same cache, one copying in while the other copies out,
// so each .deb appears by rename, whole or not at all, and one already
// there is left alone (Debian's file names carry version and
// architecture). mmdebstrap's own sync-out extracts with tar, writing each
// file in place, which is why it is not used.
func syncOutHook(debs string) string {
	d := shellQuote(debs)
	return `set -e; for f in "$1"/var/cache/apt/archives/*.deb; do [ -e "$f" ] || continue; b=${f##*/}; ` +
		`[ -e ` + d + `/"$b" ] && continue; cp "$f" ` + d + `/."$b".$$; mv -f ` + d + `/."$b".$$ ` + d + `/"$b"; done`
}

// removeStaleCopies removes syncOutHook's temporary files older than age:
// left by a build that was killed while it copied. Younger ones may be
// another build's, still being written.
func removeStaleCopies(debs string, age time.Duration) {
	tmps, _ := filepath.Glob(filepath.Join(debs, ".*.deb.*"))
	for _, t := range tmps {
		if fi, err := os.Stat(t); err == nil && time.Since(fi.ModTime()) > age {
			os.Remove(t)
		}
	}
}

// shellQuote quotes s for the shell mmdebstrap runs its hooks with.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
