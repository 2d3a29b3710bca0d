package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// The qemu-user releases that break os/exec in Go programs: from 7.2 on,
// qemu reports CLONE_PIDFD as supported but does not implement it, so the
// Go runtime's pidfd-based process start fails (golang/go#68976, fixed in
// qemu 8.0). Debian 12's own qemu-user-static is 7.2; bookworm-backports
// has a fixed one.
var badQEMU = mustConstraint(">= 7.2.0-0, < 8.0.0-0")

func mustConstraint(s string) *semver.Constraints {
	c, err := semver.NewConstraint(s)
	if err != nil {
		panic(err)
	}
	return c
}

// checkEmulation says whether this host can run target t's programs in a
// root file system: natively when its kernel can, else through a
// binfmt_misc handler for qemu-user registered with the F flag (the kernel
// opens the interpreter when the handler is registered, so it works inside
// a chroot that does not contain it) and of a qemu release Go programs
// survive.
func checkEmulation(ctx context.Context, h arch.Host, t arch.Target, dir string) []Result {
	res := Result{Kind: "emulate", Name: t.Name}
	if h.KernelRuns(t) {
		res.Status, res.Detail = OK, fmt.Sprintf("this %s kernel runs %s programs itself; no emulator needed", h.Kernel, t.Name)
		if t.Bits < h.KernelBits {
			// Not every 64-bit CPU runs 32-bit code: check32 asks.
			res.Detail = fmt.Sprintf("this %s kernel runs %s programs itself if its CPU does (the linux32 and exec32 checks ask); no emulator needed", h.Kernel, t.Name)
		}
		return []Result{res}
	}
	if dir == "" {
		dir = "/proc/sys/fs/binfmt_misc"
	}
	res.Name = t.QEMU
	fix := "bootstrap doctor --install --emulate RECIPE"
	if _, err := os.Stat(filepath.Join(dir, "status")); err != nil {
		res.Status = Missing
		res.Detail = fmt.Sprintf("binfmt_misc is not mounted at %s, so %s programs cannot run here (%s mounts it and registers qemu)", dir, t.Name, fix)
		return []Result{res}
	}
	entry, err := os.ReadFile(filepath.Join(dir, t.QEMU))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Status, res.Detail = Missing, fmt.Sprintf("no binfmt_misc handler %s is registered, so %s programs cannot run here (%s installs qemu-user-static and registers it)", t.QEMU, t.Name, fix)
		return []Result{res}
	case err != nil:
		res.Status, res.Detail = Unknown, err.Error()
		return []Result{res}
	}
	hd := parseHandler(string(entry))
	switch {
	case !hd.enabled:
		res.Status, res.Detail = Missing, fmt.Sprintf("%s is registered but disabled (echo 1 > %s)", t.QEMU, filepath.Join(dir, t.QEMU))
		return []Result{res}
	case !strings.Contains(hd.flags, "F"):
		res.Status, res.Detail = Missing, fmt.Sprintf("%s is registered without the F flag (flags %q): inside a chroot the kernel looks for %s in the tree and fails; %s registers it again with F", t.QEMU, hd.flags, hd.interpreter, fix)
		return []Result{res}
	}
	res.Status, res.Detail = OK, fmt.Sprintf("%s, flags %s", hd.interpreter, hd.flags)
	ver := Result{Kind: "emulate", Name: "qemu " + t.Name}
	v, err := qemuVersion(ctx, hd.interpreter)
	switch {
	case err != nil:
		ver.Status, ver.Detail = Unknown, err.Error()
	case badQEMU.Check(v):
		ver.Status, ver.Detail = Missing, fmt.Sprintf("qemu %s breaks os/exec in Go programs (golang/go#68976; fixed in 8.0): install qemu-user-static from bookworm-backports and register it again (%s)", v, fix)
	default:
		ver.Status, ver.Detail = OK, "qemu "+v.String()+" (the handler registered with F keeps the binary it opened then; --install registers it again after an upgrade)"
	}
	return []Result{res, ver}
}

// handler is what /proc/sys/fs/binfmt_misc/<name> says.
type handler struct {
	enabled     bool
	interpreter string
	flags       string
}

func parseHandler(s string) handler {
	var h handler
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch {
		case line == "enabled":
			h.enabled = true
		case k == "interpreter":
			h.interpreter = v
		case k == "flags:":
			h.flags = v
		}
	}
	return h
}

var qemuVersionRE = regexp.MustCompile(`version (\d+\.\d+(?:\.\d+)?)`)

// qemuVersion asks the qemu binary behind a handler's interpreter for its
// version. Debian's interpreters are links named *-binfmt-P that refuse to
// run by that name, so the link is resolved first.
func qemuVersion(ctx context.Context, interpreter string) (*semver.Version, error) {
	bin, err := filepath.EvalSymlinks(interpreter)
	if err != nil {
		return nil, fmt.Errorf("interpreter %s: %w", interpreter, err)
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", bin, err)
	}
	m := qemuVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return nil, fmt.Errorf("%s --version printed no version", bin)
	}
	return semver.NewVersion(m[1])
}

// InstallEmulation sets this host up to run target t's programs: mounts
// binfmt_misc, installs mmdebstrap with arch-test (which mmdebstrap needs
// for any architecture but the host's own) and qemu-user-static (from
// bookworm-backports on Debian 12, whose own qemu is too old for Go, adding
// that source when apt has none), and registers t's handler from
// /usr/lib/binfmt.d again, with the F flag (an existing registration keeps
// the binary it opened when registered, even after an upgrade). Its output
// goes to out.
func InstallEmulation(ctx context.Context, h arch.Host, t arch.Target, dir string, out io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("setting up emulation needs root (mount, apt-get, binfmt_misc registration)")
	}
	if dir == "" {
		dir = "/proc/sys/fs/binfmt_misc"
	}
	pkgs := []string{"mmdebstrap", "arch-test"}
	if !h.KernelRuns(t) {
		pkgs = append(pkgs, "qemu-user-static")
	}
	if err := aptInstallBackports(ctx, pkgs, out); err != nil {
		return err
	}
	if h.KernelRuns(t) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "status")); err != nil {
		fmt.Fprintf(out, "mount -t binfmt_misc binfmt_misc %s\n", dir)
		if err := exec.CommandContext(ctx, "mount", "-t", "binfmt_misc", "binfmt_misc", dir).Run(); err != nil {
			return fmt.Errorf("mount binfmt_misc on %s: %w", dir, err)
		}
	}
	return registerHandler(t, dir, "/usr/lib/binfmt.d", out)
}

// registerHandler registers t's qemu handler from its binfmt.d file, with
// the F flag, replacing any registration there is.
func registerHandler(t arch.Target, dir, confDir string, out io.Writer) error {
	conf := filepath.Join(confDir, t.QEMU+".conf")
	data, err := os.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("no binfmt_misc definition for %s: %w (is qemu-user-static installed?)", t.Name, err)
	}
	line := strings.TrimSpace(string(data))
	fields := strings.Split(line, ":")
	if len(fields) < 7 {
		return fmt.Errorf("%s: not a binfmt_misc definition", conf)
	}
	if flags := fields[len(fields)-1]; !strings.Contains(flags, "F") {
		fields[len(fields)-1] = flags + "F"
		line = strings.Join(fields, ":")
	}
	entry := filepath.Join(dir, t.QEMU)
	if _, err := os.Stat(entry); err == nil {
		if err := os.WriteFile(entry, []byte("-1"), 0); err != nil {
			return fmt.Errorf("unregister %s: %w", entry, err)
		}
	}
	fmt.Fprintf(out, "register %s from %s\n", t.QEMU, conf)
	if err := os.WriteFile(filepath.Join(dir, "register"), []byte(line), 0); err != nil {
		return fmt.Errorf("register %s: %w", t.QEMU, err)
	}
	return nil
}

// aptInstallBackports installs pkgs, from bookworm-backports when this is
// Debian 12 (adding the source if apt has none).
func aptInstallBackports(ctx context.Context, pkgs []string, out io.Writer) error {
	osRelease, _ := os.ReadFile("/etc/os-release")
	if !strings.Contains(string(osRelease), "VERSION_CODENAME=bookworm") {
		return Install(ctx, pkgs, out)
	}
	if !aptHasSuite("bookworm-backports") {
		src := "/etc/apt/sources.list.d/bootstrap-bookworm-backports.sources"
		fmt.Fprintf(out, "adding %s\n", src)
		def := "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
		if err := os.WriteFile(src, []byte(def), 0o644); err != nil {
			return err
		}
	}
	for _, args := range [][]string{{"update", "-q"}, append([]string{"install", "-y", "-q", "--no-install-recommends", "-t", "bookworm-backports"}, pkgs...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// aptHasSuite reports whether an apt source names suite.
func aptHasSuite(suite string) bool {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append(files, "/etc/apt/sources.list")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil && regexp.MustCompile(`(?m)^[^#]*\b`+regexp.QuoteMeta(suite)+`\b`).Match(data) {
			return true
		}
	}
	return false
}
