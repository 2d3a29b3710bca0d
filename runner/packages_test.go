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
