package unpack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/porterkit/bootstrap/runner/internal/treetest"
)

// debianGoTarball is Go 1.19.8's source as Debian ships it (byte-identical
// to the upstream release); scripts/debsrc.sh downloads it.
const debianGoTarball = "/var/cache/bootstrap-debsrc/golang-1.19_1.19.8.orig.tar.gz"

// TestGoTarballAsTar unpacks the real Go source tarball (13,000 entries)
// with File and with GNU tar, and compares the trees entry by entry: type,
// permission bits, content, symlink target and mtime.
func TestGoTarballAsTar(t *testing.T) {
	if _, err := os.Stat(debianGoTarball); err != nil {
		t.Skipf("%s absent (scripts/debsrc.sh downloads it): %v", debianGoTarball, err)
	}
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("tar not installed")
	}
	ours, theirs := filepath.Join(t.TempDir(), "ours"), filepath.Join(t.TempDir(), "tar")
	if err := File(context.Background(), debianGoTarball, ours, 1); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(theirs, 0o755)
	if out, err := exec.Command("tar", "xzf", debianGoTarball, "--strip-components=1", "-C", theirs).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	want := treetest.Describe(t, theirs, treetest.Options{MTimes: true})
	if len(want) < 10000 {
		t.Fatalf("tar unpacked only %d entries", len(want))
	}
	diffs := treetest.Diff(want, treetest.Describe(t, ours, treetest.Options{MTimes: true}))
	for i, d := range diffs {
		if i == 10 {
			t.Fatalf("and %d more differences", len(diffs)-i)
		}
		t.Error(d)
	}
}
