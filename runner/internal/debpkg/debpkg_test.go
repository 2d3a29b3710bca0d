package debpkg

import (
	"context"
	"errors"
	"os/exec"
	"testing"
)

// TestInstalled asks this machine's dpkg about packages every Debian
// system has, qualified and not, and about one that does not exist.
func TestInstalled(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("not a Debian system")
	}
	arch, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	native := string(arch[:len(arch)-1])
	names := []string{"dpkg", "libc6:" + native, "libc6", "no-such-package-bootstrap-test", "dpkg:no-such-arch"}
	got, err := Installed(context.Background(), names)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names[:3] {
		p, ok := got[n]
		if !ok || p.Version == "" || p.Arch == "" {
			t.Errorf("%s: %+v, %v; want installed with a version", n, p, ok)
		}
	}
	if got["libc6"] != got["libc6:"+native] || got["libc6"].Arch != native {
		t.Errorf("libc6 %+v, libc6:%s %+v", got["libc6"], native, got["libc6:"+native])
	}
	for _, n := range names[3:] {
		if p, ok := got[n]; ok {
			t.Errorf("%s reported installed: %+v", n, p)
		}
	}
}

func TestInstalledNoDpkg(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := Installed(context.Background(), []string{"dpkg"}); !errors.Is(err, ErrNoDpkg) {
		t.Errorf("err = %v, want ErrNoDpkg", err)
	}
}
