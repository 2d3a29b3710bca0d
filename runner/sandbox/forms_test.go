package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/porterkit/bootstrap/runner/execstep"
	"github.com/porterkit/bootstrap/runner/sandbox"
)

// forms are the two ways into a sandbox's namespaces: created in them
// by clone flags (every real kernel), or given them as unshare flags,
// the PID namespace made by Enter (the fallback for qemu-user, forced
// here on this machine's kernel).
var forms = []struct {
	name string
	attr func(*syscall.SysProcAttr, sandbox.Spec)
}{
	{"clone", sandbox.SysProcAttr},
	{"unshare", func(a *syscall.SysProcAttr, spec sandbox.Spec) {
		sandbox.SysProcAttr(a, spec)
		sandbox.Unshare(a)
	}},
}

// runIn runs script confined, through this test binary's Enter, with
// own as the one writable tree and hide covered.
func runIn(t *testing.T, attr func(*syscall.SysProcAttr, sandbox.Spec), own string, hide []string, env []string, script string) (string, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec := sandbox.Spec{Confine: true, Binds: []sandbox.Bind{{Src: own}}, Hide: hide, Dir: own, Argv: execstep.Argv(script, "sh")}
	argv, env, err := sandbox.Wrap(self, spec, append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = execstep.Run(context.Background(), execstep.Command{Argv: argv, Env: env, Dir: "/", Output: &out,
		Attr: func(a *syscall.SysProcAttr) { attr(a, spec) }})
	return out.String(), err
}

// TestForms runs one probing step in each form: the shell is PID 1 of
// its own namespace, it has mount, UTS, IPC and network namespaces of
// its own, its network has only lo, it cannot write outside its tree, a detached process dies
// with it, and its exit status comes back as it was.
func TestForms(t *testing.T) {
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			dir := t.TempDir()
			own, outside := filepath.Join(dir, "own"), filepath.Join(dir, "outside")
			for _, d := range []string{own, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			marker := "BOOTSTRAP_TEST_FORM=" + filepath.Base(dir)
			script := `echo "pid $$"
echo "init $(tr '\0' ' ' < /proc/1/cmdline)"
for ns in mnt pid uts ipc net; do echo "ns $(readlink /proc/self/ns/$ns)"; done
echo "interfaces $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo owned > ` + outside + `/x 2>/dev/null || echo "outside refused"
echo mine > mine
setsid sleep 30 > /dev/null 2>&1 < /dev/null &
exit 7
`
			out, err := runIn(t, f.attr, own, nil, []string{marker}, script)
			var ee *execstep.ExitError
			if !errors.As(err, &ee) || ee.Code != 7 {
				t.Fatalf("err = %v, want exit 7\n%s", err, out)
			}
			for _, want := range []string{"pid 1\n", "init /bin/sh -e -c ", "interfaces lo \n", "outside refused\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("the step did not say %q:\n%s", want, out)
				}
			}
			for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net"} {
				ours, err := os.Readlink("/proc/self/ns/" + ns)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(out, "ns "+ns+":[") || strings.Contains(out, "ns "+ours+"\n") {
					t.Errorf("the step is not in a %s namespace of its own (ours is %s):\n%s", ns, ours, out)
				}
			}
			if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
				t.Error("the step wrote outside its tree")
			}
			if data, err := os.ReadFile(filepath.Join(own, "mine")); err != nil || string(data) != "mine\n" {
				t.Errorf("the step's own tree: %q, %v", data, err)
			}
			if left := processesWith(marker); len(left) > 0 {
				t.Errorf("processes of the step outlived it: %v", left)
			}
		})
	}
}

// TestMountsStayPrivate runs a step whose tree lies below a shared
// mount (systemd makes / shared): the mounts the sandbox makes there
// (a tmpfs over the hidden directory, the tree's bind) must not appear
// in the host's mount namespace, in either form.
func TestMountsStayPrivate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a shared tmpfs needs root; as another user the sandbox's mounts cannot propagate back anyway")
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
			if err := syscall.Mount("", dir, "", syscall.MS_SHARED, ""); err != nil {
				t.Fatal(err)
			}
			own, hidden := filepath.Join(dir, "own"), filepath.Join(dir, "hidden")
			for _, d := range []string{own, hidden} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := runIn(t, f.attr, own, []string{hidden}, nil, "ls "+hidden); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if m := mountsBelow(t, dir); len(m) > 0 {
				t.Errorf("the sandbox's mounts appeared on the host: %v", m)
			}
		})
	}
}

// mountsBelow lists the host's mount points below dir.
func mountsBelow(t *testing.T, dir string) []string {
	t.Helper()
	out, err := exec.Command("findmnt", "-rn", "-o", "TARGET").Output()
	if err != nil {
		t.Fatal(err)
	}
	var below []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, dir+"/") {
			below = append(below, p)
		}
	}
	return below
}

// processesWith lists the PIDs whose environment holds kv.
func processesWith(kv string) []string {
	environs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var out []string
	for _, e := range environs {
		data, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		for _, v := range strings.Split(string(data), "\x00") {
			if v == kv {
				out = append(out, filepath.Base(filepath.Dir(e)))
			}
		}
	}
	return out
}
