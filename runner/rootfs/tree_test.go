package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

// TestTreeDigest: a cached root file system is named by the tree hash of
// its files (not of its package list), computed once and kept in the
// cache entry; two trees with the same package list and different files
// get different digests.
func TestTreeDigest(t *testing.T) {
	cache := t.TempDir()
	spec := Spec{Arch: "ppc64el", Packages: []string{"busybox-static"}}
	entry := entryDir(cache, spec.Normalize())
	root := filepath.Join(entry, "root")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "busybox"), []byte("\x7fELF one\n"), 0o755)
	os.Symlink("busybox", filepath.Join(root, "bin", "sh"))
	os.WriteFile(filepath.Join(entry, "packages.txt"), []byte("busybox-static:ppc64el 1:1.35.0-4+b4\n"), 0o644)

	r, err := Load(cache, spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.TreeDigest()
	want, _ := treehash.Sum(root)
	if err != nil || got != want || !strings.HasPrefix(got, "sha256:") {
		t.Fatalf("TreeDigest = %q, %v; want the tree hash %s", got, err, want)
	}
	kept, err := os.ReadFile(filepath.Join(entry, TreeName))
	if err != nil || strings.TrimSpace(string(kept)) != want {
		t.Fatalf("tree hash not kept beside the tree: %q %v", kept, err)
	}

	// Kept, not recomputed: a later Load reads it (a changed file in the
	// cached tree is not how the tree changes: it is rebuilt whole).
	os.WriteFile(filepath.Join(root, "bin", "busybox"), []byte("\x7fELF two\n"), 0o755)
	r2, _ := Load(cache, spec)
	if got2, _ := r2.TreeDigest(); got2 != want {
		t.Errorf("second Load hashed again: %s, want the kept %s", got2, want)
	}
	// The same package list with other files: another digest.
	os.Remove(filepath.Join(entry, TreeName))
	r3, _ := Load(cache, spec)
	got3, _ := r3.TreeDigest()
	if r3.Identity() != r.Identity() || got3 == want {
		t.Errorf("other files, same packages: digest %s (was %s)", got3, want)
	}
}

// TestTreeDigestFromDir: a --rootfs tree is hashed by the run that asks,
// and not written into.
func TestTreeDigestFromDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "var/lib/dpkg"), 0o755)
	os.WriteFile(filepath.Join(dir, "var/lib/dpkg/status"), []byte("Package: a\nStatus: install ok installed\nArchitecture: arm64\nVersion: 1\n\n"), 0o644)
	r, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.TreeDigest()
	want, _ := treehash.Sum(dir)
	if err != nil || got != want {
		t.Errorf("TreeDigest = %q %v, want %s", got, err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, TreeName)); err == nil {
		t.Error("TreeDigest wrote into the user's tree")
	}
}
