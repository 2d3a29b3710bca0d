package unpack

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
	want, got := describeTree(t, theirs), describeTree(t, ours)
	if len(want) < 10000 {
		t.Fatalf("tar unpacked only %d entries", len(want))
	}
	bad := 0
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("missing: %s", name)
			bad++
		} else if g != w {
			t.Errorf("%s: %s, tar gives %s", name, g, w)
			bad++
		}
		if bad > 10 {
			t.Fatal("too many differences")
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("extra: %s", name)
		}
	}
}

// describeTree maps every path below dir to its type, permission bits,
// mtime and content hash or link target.
func describeTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d", info.Mode(), info.ModTime().Unix())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc = "symlink to " + target
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha256 %x", sha256.Sum256(data))
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
