package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpecName(t *testing.T) {
	base := Spec{Arch: "ppc64el", Packages: []string{"gccgo-12", "containerd:amd64", "gccgo-12"}}
	n := base.Name()
	if !strings.HasPrefix(n, "bookworm-ppc64el-") {
		t.Errorf("name %q: want the suite and architecture first", n)
	}
	for _, tt := range []struct {
		what string
		s    Spec
		same bool
	}{
		{"same packages in another order, one repeated", Spec{Arch: "ppc64el", Packages: []string{"containerd:amd64", "gccgo-12"}}, true},
		{"defaults written out", Spec{Suite: "bookworm", Arch: "ppc64el", Mirror: DefaultMirror, Variant: "buildd", Packages: []string{"gccgo-12", "containerd:amd64"}}, true},
		{"one package more", Spec{Arch: "ppc64el", Packages: []string{"containerd:amd64", "gccgo-12", "sl"}}, false},
		{"another architecture", Spec{Arch: "arm64", Packages: []string{"containerd:amd64", "gccgo-12"}}, false},
		{"another suite", Spec{Suite: "trixie", Arch: "ppc64el", Packages: []string{"containerd:amd64", "gccgo-12"}}, false},
		{"another mirror", Spec{Arch: "ppc64el", Mirror: "http://mirror.example/debian", Packages: []string{"containerd:amd64", "gccgo-12"}}, false},
		{"native containerd", Spec{Arch: "ppc64el", Packages: []string{"containerd", "gccgo-12"}}, false},
	} {
		if got := tt.s.Name() == n; got != tt.same {
			t.Errorf("%s: same cache entry = %v, want %v", tt.what, got, tt.same)
		}
	}
	if got := strings.Join(base.Normalize().Architectures(), ","); got != "ppc64el,amd64" {
		t.Errorf("architectures %q, want ppc64el,amd64", got)
	}
}

func TestReadStatus(t *testing.T) {
	status := filepath.Join(t.TempDir(), "status")
	data := `Package: zlib1g
Status: install ok installed
Priority: optional
Architecture: ppc64el
Multi-Arch: same
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.

Package: gone
Status: deinstall ok config-files
Architecture: ppc64el
Version: 1.0

Package: runc
Status: install ok installed
Architecture: amd64
Version: 1.1.5+ds1-1+deb12u1

Package: zlib1g
Status: install ok installed
Architecture: amd64
Version: 1:1.2.13.dfsg-1
`
	if err := os.WriteFile(status, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs, err := ReadStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	r := &Rootfs{Packages: pkgs}
	want := "runc:amd64 1.1.5+ds1-1+deb12u1\nzlib1g:amd64 1:1.2.13.dfsg-1\nzlib1g:ppc64el 1:1.2.13.dfsg-1"
	if got := r.Identity(); got != want {
		t.Errorf("identity:\n%s\nwant:\n%s", got, want)
	}
	back, err := parseIdentity(strings.NewReader(r.Identity()))
	if err != nil || len(back) != 3 || back[2] != pkgs[2] {
		t.Errorf("identity does not read back: %v %v", back, err)
	}
}

func TestLoadNotBuilt(t *testing.T) {
	_, err := Load(t.TempDir(), Spec{Arch: "arm64"})
	if err == nil || !strings.Contains(err.Error(), "not built") {
		t.Errorf("Load of an empty cache: %v", err)
	}
	if _, _, err := Ensure(t.Context(), t.TempDir(), Spec{Arch: "arm64"}, EnsureOptions{Offline: true}); err == nil || !strings.Contains(err.Error(), "--offline") {
		t.Errorf("offline Ensure of an empty cache: %v", err)
	}
}

func TestFromDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("one"), 0o644)
	r1, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a"), []byte("two"), 0o644)
	r2, _ := FromDir(dir)
	if r1.Identity() == r2.Identity() {
		t.Error("a tree without dpkg: its identity must follow its content")
	}
	if _, err := FromDir(filepath.Join(dir, "a")); err == nil {
		t.Error("a file is not a root file system")
	}
}
