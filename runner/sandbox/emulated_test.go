package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The first 20 bytes of a little-endian 64-bit ELF executable for
// EM_PPC64 (0x15) and for EM_X86_64 (0x3e).
var (
	elfPPC64LE = []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x15, 0}
	elfAMD64   = []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3e, 0}
)

// qemuPPC64LE is a handler as Debian's qemu-user-binfmt registers it.
const qemuPPC64LE = `enabled
interpreter /usr/libexec/qemu-binfmt/ppc64le-binfmt-P
flags: POF
offset 0
magic 7f454c4602010100000000000000000002001500
mask fffffffffffffffcfffffffffffffffffeffff00
`

// TestEmulatorOf finds the handler that runs a binary as the kernel
// does, by magic and mask: a ppc64le binary is qemu-ppc64le's, a native
// one nobody's, and a disabled handler runs nothing.
func TestEmulatorOf(t *testing.T) {
	dir := t.TempDir()
	binfmt := filepath.Join(dir, "binfmt_misc")
	write := func(p string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(binfmt, "status"), []byte("enabled\n"))
	write(filepath.Join(binfmt, "register"), nil)
	write(filepath.Join(binfmt, "qemu-ppc64le"), []byte(qemuPPC64LE))
	write(filepath.Join(binfmt, "python3.11"), []byte("enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n"))
	ppc := filepath.Join(dir, "bootstrap-ppc64le")
	write(ppc, append(append([]byte(nil), elfPPC64LE...), make([]byte, 200)...))
	amd := filepath.Join(dir, "bootstrap-amd64")
	write(amd, append(append([]byte(nil), elfAMD64...), make([]byte, 200)...))
	short := filepath.Join(dir, "short")
	write(short, elfPPC64LE[:10])

	want := "qemu-ppc64le (binfmt_misc handler " + filepath.Join(binfmt, "qemu-ppc64le") + ", interpreter /usr/libexec/qemu-binfmt/ppc64le-binfmt-P)"
	for _, tc := range []struct{ name, exe, dir, want string }{
		{"foreign", ppc, binfmt, want},
		{"native", amd, binfmt, ""},
		{"too short to match", short, binfmt, ""},
		{"no binfmt_misc", ppc, filepath.Join(dir, "none"), ""},
	} {
		if got := emulatorOf(tc.exe, tc.dir); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	write(filepath.Join(binfmt, "qemu-ppc64le"), []byte(strings.Replace(qemuPPC64LE, "enabled", "disabled", 1)))
	if got := emulatorOf(ppc, binfmt); got != "" {
		t.Errorf("a disabled handler: %q, want none", got)
	}
}

// TestEmulatedStartError: under an emulator, the error names it, and as
// another user than root says that qemu-user makes no user namespace
// and what to do instead.
func TestEmulatedStartError(t *testing.T) {
	err := errors.New("start /proc/self/exe: invalid argument")
	for _, tc := range []struct {
		root bool
		want []string
	}{
		{false, []string{"qemu-ppc64le (binfmt", "cannot make the user namespace", "Run bootstrap as root", "--no-sandbox"}},
		{true, []string{"qemu-ppc64le (binfmt", "both as clone flags and by unshare(2)", "--no-sandbox"}},
	} {
		got := emulatedStartError(err, "qemu-ppc64le (binfmt_misc handler h, interpreter i)", tc.root)
		if !errors.Is(got, err) {
			t.Errorf("root %v: %v does not wrap the start's error", tc.root, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("root %v: %q does not say %q", tc.root, got, w)
			}
		}
	}
}

// TestFallback: only a start refused with EINVAL, of a process that was
// to be cloned into namespaces, is tried again, with the same
// namespaces as unshare flags but the PID namespace (Enter makes that
// one), and the other attributes kept.
func TestFallback(t *testing.T) {
	einval := &os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.EINVAL}
	confined := func() *syscall.SysProcAttr {
		a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		SysProcAttr(a, Spec{Confine: true})
		return a
	}
	a := confined()
	got, ok := Fallback(a, einval)
	if !ok {
		t.Fatal("EINVAL for a confined step: no fallback")
	}
	if b := confined(); a.Cloneflags != b.Cloneflags || a.Unshareflags != b.Unshareflags {
		t.Error("Fallback changed the attributes it was given")
	}
	// Every namespace but the PID one (with the user namespace when not
	// root), now as unshare flags.
	if want := a.Cloneflags &^ syscall.CLONE_NEWPID; got.Cloneflags != 0 || got.Unshareflags != want {
		t.Errorf("fallback clone flags %#x, unshare flags %#x; want none, and %#x", got.Cloneflags, got.Unshareflags, want)
	}
	if !got.Setpgid || got.Pdeathsig != syscall.SIGKILL || len(got.UidMappings) != len(a.UidMappings) {
		t.Errorf("fallback lost attributes: %+v", got)
	}
	for _, tc := range []struct {
		name string
		attr *syscall.SysProcAttr
		err  error
	}{
		{"another error", confined(), &os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.EPERM}},
		{"no namespaces", &syscall.SysProcAttr{Setpgid: true}, einval},
		{"started", confined(), nil},
		{"no attributes", nil, einval},
	} {
		if _, ok := Fallback(tc.attr, tc.err); ok {
			t.Errorf("%s: fallback offered", tc.name)
		}
	}
}
