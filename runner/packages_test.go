package runner

import (
	"strings"
	"testing"
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
	c := Change{Key: "rootfs.packages", Old: old, New: "(trixie riscv64: root file system not built yet (/c/rootfs/trixie-riscv64-c0a3))"}
	want := "root file system not in this cache: trixie riscv64: root file system not built yet (/c/rootfs/trixie-riscv64-c0a3)"
	if r := c.Reason(); r != want {
		t.Errorf("reason %q\nwant %q", r, want)
	}
}
