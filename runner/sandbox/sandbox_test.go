package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// TestStartError: a refused namespace names the sysctls, the capability
// and the flag that works around it; any other error passes unchanged.
func TestStartError(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.EINVAL, syscall.ENOSPC, syscall.EACCES} {
		msg := StartError(fmt.Errorf("start /proc/self/exe: %w", errno)).Error()
		for _, want := range []string{"user.max_user_namespaces", "kernel.unprivileged_userns_clone", "CAP_SYS_ADMIN", "--no-sandbox"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%v: %q does not name %s", errno, msg, want)
			}
		}
	}
	other := errors.New("start: no such file")
	if got := StartError(other); got != other {
		t.Errorf("StartError(%v) = %v, want it unchanged", other, got)
	}
}

// TestStepBinds: private /tmp and HOME first, then own trees writable and
// needed ones read-only, each at its real path or, with Root, at the same
// place below the fixed path; a privileged step gets the private dirs
// and the whole work dir (a private /tmp must not cover one below /tmp),
// also at Root; a path that does not exist is left out.
func TestStepBinds(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name, root string
		at         func(rel string) string // where a tree below the work dir is seen
	}{
		{"real paths", "", func(rel string) string { return filepath.Join(dir, rel) }},
		{"fixed root", WorkRoot, func(rel string) string { return filepath.Join(WorkRoot, rel) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Step{WorkDir: dir, Root: tc.root, Own: []string{p("src/b"), filepath.Join(dir, "missing")}, Sees: []string{p("build/a")},
				Tmp: p("sandbox/tmp"), Home: p("sandbox/home"), TmpDir: "/w/tmp", HomeDir: "/w/home"}
			want := []Bind{{Src: s.Tmp, Dst: "/tmp"}, {Src: s.Tmp, Dst: "/w/tmp"}, {Src: s.Home, Dst: "/w/home"},
				{Src: filepath.Join(dir, "src/b"), Dst: tc.at("src/b")}, {Src: filepath.Join(dir, "build/a"), Dst: tc.at("build/a"), RO: true}}
			if got := s.Binds(); !reflect.DeepEqual(got, want) {
				t.Errorf("binds %+v\nwant %+v", got, want)
			}
			// run --check: a scratch tree is mounted where the own tree is seen.
			s.Scratch = map[string]string{filepath.Join(dir, "src/b"): p("check/b/src")}
			scratch := append(append(want[:3:3], Bind{Src: filepath.Join(dir, "check/b/src"), Dst: tc.at("src/b")}), want[4])
			if got := s.Binds(); !reflect.DeepEqual(got, scratch) {
				t.Errorf("binds with a scratch tree %+v\nwant %+v", got, scratch)
			}
			s.Scratch = nil
			s.Privileged = true
			priv := append(want[:3:3], Bind{Src: dir})
			if tc.root != "" {
				priv = append(priv, Bind{Src: dir, Dst: tc.root})
			}
			if got := s.Binds(); !reflect.DeepEqual(got, priv) {
				t.Errorf("privileged binds %+v, want %+v", got, priv)
			}
		})
	}
}

// TestNamespaces: a confined step gets all five namespaces, one with
// network: true all but the network's, a privileged one mount and PID.
func TestNamespaces(t *testing.T) {
	all := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET)
	for _, tc := range []struct {
		spec Spec
		want uintptr
	}{
		{Spec{Confine: true}, all},
		{Spec{Confine: true, Network: true}, all &^ syscall.CLONE_NEWNET},
		{Spec{Confine: true, Privileged: true}, syscall.CLONE_NEWNS | syscall.CLONE_NEWPID},
		{Spec{}, syscall.CLONE_NEWNS | syscall.CLONE_NEWPID},
	} {
		if got := Namespaces(tc.spec); got != tc.want {
			t.Errorf("%+v: %#x, want %#x", tc.spec, got, tc.want)
		}
	}
}
