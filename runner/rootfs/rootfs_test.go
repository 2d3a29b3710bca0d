package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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

// TestSyncHooks runs the hooks mmdebstrap would run, with sh and the root
// directory as $1, on a cache directory whose name needs quoting.
func TestSyncHooks(t *testing.T) {
	dir := t.TempDir()
	debs := filepath.Join(dir, "cache dir's", "debs")
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hook := func(script, root string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", script, "exec", root).CombinedOutput(); err != nil {
			t.Fatalf("hook %s: %v\n%s", script, err, out)
		}
	}
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write(filepath.Join(debs, "b_1_all.deb"), "cached b")
	write(filepath.Join(debs, "c_1_all.deb"), "cached c")
	write(filepath.Join(debs, ".d_1_all.deb.123"), "half-written d")
	old := time.Now().Add(-48 * time.Hour)
	write(filepath.Join(debs, ".e_1_all.deb.456"), "killed e")
	if err := os.Chtimes(filepath.Join(debs, ".e_1_all.deb.456"), old, old); err != nil {
		t.Fatal(err)
	}

	// sync-in: an empty tree gets the whole debs, not the temporary copies.
	root := filepath.Join(dir, "root1")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	hook(syncInHook(debs), root)
	archives := filepath.Join(root, "var", "cache", "apt", "archives")
	got, _ := filepath.Glob(filepath.Join(archives, "*"))
	if len(got) != 2 || read(filepath.Join(archives, "c_1_all.deb")) != "cached c" {
		t.Errorf("after sync-in the tree's archive holds %v", got)
	}

	// sync-out: new .debs are copied, cached ones are kept as they are.
	write(filepath.Join(archives, "a_1_all.deb"), "downloaded a")
	write(filepath.Join(archives, "b_1_all.deb"), "downloaded b")
	hook(syncOutHook(debs), root)
	want := map[string]string{"a_1_all.deb": "downloaded a", "b_1_all.deb": "cached b", "c_1_all.deb": "cached c"}
	for name, text := range want {
		if got := read(filepath.Join(debs, name)); got != text {
			t.Errorf("after sync-out %s holds %q, want %q", name, got, text)
		}
	}
	removeStaleCopies(debs, 24*time.Hour)
	entries, _ := os.ReadDir(debs)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{".d_1_all.deb.123", "a_1_all.deb", "b_1_all.deb", "c_1_all.deb"}; !reflect.DeepEqual(names, want) {
		t.Errorf("debs holds %v, want %v (a young temporary copy kept, an old one removed)", names, want)
	}

	// A tree with no .debs at all (everything came from the cache and was
	// cleaned) is not an error.
	empty := filepath.Join(dir, "root2")
	if err := os.MkdirAll(filepath.Join(empty, "var", "cache", "apt", "archives"), 0o755); err != nil {
		t.Fatal(err)
	}
	hook(syncOutHook(debs), empty)
}
