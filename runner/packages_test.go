package runner

import (
	"errors"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/runner/executor"
)

func TestPackageChanges(t *testing.T) {
	old := "gcc:ppc64el 4:12.2.0-3\nlibc6:ppc64el 2.36-9\nsl:ppc64el 5.02-1"
	cur := "gcc:ppc64el 4:12.2.0-3\nlibc6:ppc64el 2.36-9+deb12u4\nrunc:amd64 1.1.5"
	got := strings.Join(PackageChanges(old, cur), "; ")
	want := "+runc:amd64 1.1.5; -sl:ppc64el 5.02-1; libc6:ppc64el 2.36-9 → 2.36-9+deb12u4"
	if got != want {
		t.Errorf("changes %q\nwant %q", got, want)
	}
	c := Change{Key: "rootfs.packages", Old: old, New: cur}
	if r := c.Reason(); !strings.HasPrefix(r, "root file system packages changed: +runc:amd64 1.1.5") {
		t.Errorf("reason %q", r)
	}
}

// TestPackagesOfATreeThisCacheLacks: a plan against a cache without the
// tree the last run used says so, instead of listing a "changed" package
// list made of the placeholder.
func TestPackagesOfATreeThisCacheLacks(t *testing.T) {
	old := "gcc:riscv64 4:14.2.0-1\nlibc6:riscv64 2.41-12"
	why := errors.New("trixie riscv64: root file system not built yet (/c/rootfs/trixie-riscv64-c0a3)")
	c := Change{Key: executor.InputRootfsPackages, Old: old, New: executor.MissingTree(why)}
	want := "root file system not in this cache: trixie riscv64: root file system not built yet (/c/rootfs/trixie-riscv64-c0a3)"
	if r := c.Reason(); r != want {
		t.Errorf("reason %q\nwant %q", r, want)
	}
	if l := c.Lines(); len(l) != 1 || !strings.Contains(l[0], "not built yet (/c/rootfs/trixie-riscv64-c0a3)") {
		t.Errorf("explain lines %q: want the one reason", l)
	}
	// A real package list is never taken for the placeholder.
	if _, missing := executor.TreeMissing(old); missing {
		t.Errorf("package list %q taken for a missing tree", old)
	}
}
