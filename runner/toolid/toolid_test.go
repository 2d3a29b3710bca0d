package toolid

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTool writes an executable shell script that prints version for
// --version.
func writeTool(t *testing.T, path, version string) {
	t.Helper()
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '" + version + "'; exit 0; fi\necho run\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// env is a step environment with PATH.
func env(path ...string) []string {
	return []string{"PATH=" + strings.Join(path, ":"), "LANG=C.UTF-8"}
}

func TestIdentify(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	host := filepath.Join(root, "host")
	writeTool(t, filepath.Join(host, "mytool"), "mytool 1.0")
	writeTool(t, filepath.Join(work, "install/bin/mytool"), "mytool built")
	writeTool(t, filepath.Join(work, "install/bin/chainonly"), "chainonly 1")
	// A tool that fails --version, as dash does, is still cached.
	if err := os.WriteFile(filepath.Join(host, "noversion"), []byte("#!/bin/sh\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("mytool", filepath.Join(host, "alias")); err != nil {
		t.Fatal(err)
	}
	workBin := filepath.Join(work, "install/bin")
	for _, tc := range []struct {
		name, tool string
		path       []string
		want       string // prefix of the value; "" with counts false
		counts     bool
	}{
		{"on the host PATH", "mytool", []string{host}, filepath.Join(host, "mytool") + " sha256:", true},
		{"work dir PATH entry skipped", "mytool", []string{workBin, host}, filepath.Join(host, "mytool") + " sha256:", true},
		{"symlink resolved", "alias", []string{host}, filepath.Join(host, "mytool") + " sha256:", true},
		{"absolute path on the host", filepath.Join(host, "mytool"), nil, filepath.Join(host, "mytool") + " sha256:", true},
		{"path in the work dir is the chain's", filepath.Join(workBin, "mytool"), nil, "", false},
		{"relative path is the chain's", "./configure", nil, "", false},
		{"only in the work dir", "chainonly", []string{workBin, host}, NotFound, true},
		{"nowhere", "no-such-tool", []string{host, "/nonexistent"}, NotFound, true},
		{"missing absolute path", filepath.Join(host, "gone"), nil, filepath.Join(host, "gone") + ": no such file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(work, "")
			got, counts := r.Identify(context.Background(), tc.tool, env(tc.path...))
			if counts != tc.counts || !strings.HasPrefix(got, tc.want) || (!counts && got != "") {
				t.Errorf("Identify(%s) = %q, %v; want %q…, %v", tc.tool, got, counts, tc.want, tc.counts)
			}
		})
	}
	r := New(work, filepath.Join(root, CacheName))
	if got, _ := r.Identify(context.Background(), "noversion", env(host)); strings.Contains(got, "\n") || !r.dirty {
		t.Errorf("a tool without a version: value %q, cached %v; want no version line, cached", got, r.dirty)
	}
	// The value carries the version line, for explain.
	got, _ := New(work, "").Identify(context.Background(), "mytool", env(host))
	if !strings.HasSuffix(got, "\nmytool 1.0") {
		t.Errorf("value %q does not end with the version line", got)
	}
}

// TestCache checks that an unchanged binary is not hashed again (in one
// Resolver and across Resolvers sharing a cache file) and that every kind
// of change to it is noticed.
func TestCache(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	tool := filepath.Join(root, "bin", "mytool")
	file := filepath.Join(root, "cache", CacheName)
	writeTool(t, tool, "mytool 1.0")
	ctx := context.Background()
	e := env(filepath.Dir(tool))

	r := New(work, file)
	first, _ := r.Identify(ctx, "mytool", e)
	again, _ := r.Identify(ctx, "mytool", e)
	if r.Hashed != 1 || first != again {
		t.Fatalf("same resolver: hashed %d times, values %q / %q", r.Hashed, first, again)
	}
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}

	r = New(work, file)
	if got, _ := r.Identify(ctx, "mytool", e); got != first || r.Hashed != 0 {
		t.Fatalf("from the cache file: hashed %d, value %q, want %q", r.Hashed, got, first)
	}

	// Same size, same mtime restored, rewritten in place (same inode):
	// only ctime tells, and it must be enough.
	fi, err := os.Stat(tool)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(tool)
	time.Sleep(10 * time.Millisecond) // a ctime the old one cannot equal
	f, err := os.OpenFile(tool, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(strings.Replace(string(data), "1.0", "2.0", 1))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(tool, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	r = New(work, file)
	changed, _ := r.Identify(ctx, "mytool", e)
	if r.Hashed != 1 || changed == first || !strings.HasSuffix(changed, "\nmytool 2.0") {
		t.Fatalf("after an in-place rewrite with mtime restored: hashed %d, value %q (was %q)", r.Hashed, changed, first)
	}
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}

	// An alternatives-style switch: same name, the link now points
	// elsewhere.
	other := filepath.Join(root, "alt", "mytool-3")
	writeTool(t, other, "mytool 3.0")
	linkDir := filepath.Join(root, "links")
	os.MkdirAll(linkDir, 0o755)
	link := filepath.Join(linkDir, "mytool")
	if err := os.Symlink(tool, link); err != nil {
		t.Fatal(err)
	}
	r = New(work, file)
	viaLink, _ := r.Identify(ctx, "mytool", env(linkDir))
	os.Remove(link)
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	switched, _ := r.Identify(ctx, "mytool", env(linkDir))
	if !strings.HasPrefix(viaLink, tool+" ") || !strings.HasPrefix(switched, other+" ") || !strings.HasSuffix(switched, "mytool 3.0") {
		t.Errorf("switching the link: %q then %q", viaLink, switched)
	}
}

// TestCacheFileDamaged checks that a damaged or foreign cache file is an
// empty cache (the binary is hashed again), and is replaced by Save.
func TestCacheFileDamaged(t *testing.T) {
	for name, content := range map[string]string{
		"not json":       "{nope",
		"other format":   `{"format": 99, "tools": {}}`,
		"forged digest":  "", // filled below: right path, wrong stat
		"empty document": "{}",
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			tool := filepath.Join(root, "bin", "mytool")
			writeTool(t, tool, "mytool 1.0")
			file := filepath.Join(root, CacheName)
			if content == "" {
				content = `{"format": 1, "tools": {"` + tool + `": {"resolved": "` + tool + `", "size": 1, "digest": "sha256:00"}}}`
			}
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			r := New(filepath.Join(root, "work"), file)
			got, _ := r.Identify(context.Background(), "mytool", env(filepath.Dir(tool)))
			if r.Hashed != 1 || strings.Contains(got, "sha256:00\n") || !strings.Contains(got, " sha256:") {
				t.Fatalf("hashed %d, value %q", r.Hashed, got)
			}
			if err := r.Save(); err != nil {
				t.Fatal(err)
			}
			r = New(filepath.Join(root, "work"), file)
			r.Identify(context.Background(), "mytool", env(filepath.Dir(tool)))
			if r.Hashed != 0 {
				t.Errorf("the rewritten cache file was not used")
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	a := "/usr/bin/gcc-12 sha256:" + strings.Repeat("a", 64) + "\ngcc 12.2.0"
	b := "/usr/bin/gcc-12 sha256:" + strings.Repeat("b", 64) + "\ngcc 12.3.0"
	c := "/usr/bin/gcc-13 sha256:" + strings.Repeat("c", 64)
	for _, tc := range []struct{ old, cur, want string }{
		{a, b, "/usr/bin/gcc-12 sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb"},
		{a, c, "/usr/bin/gcc-12 sha256:aaaaaaaaaaaa → /usr/bin/gcc-13 sha256:cccccccccccc"},
		{NotFound, c, NotFound + " → /usr/bin/gcc-13 sha256:cccccccccccc"},
	} {
		if got := Describe(tc.old, tc.cur); got != tc.want {
			t.Errorf("Describe(%q, %q) = %q, want %q", tc.old, tc.cur, got, tc.want)
		}
	}
}

// TestVersionTimeout: a tool that does not answer --version in time gets
// an identity without a version line, which is not cached (the next
// compile asks again) and does not hold the plan up.
func TestVersionTimeout(t *testing.T) {
	root := t.TempDir()
	tool := filepath.Join(root, "bin", "slowtool")
	os.MkdirAll(filepath.Dir(tool), 0o755)
	if err := os.WriteFile(tool, []byte("#!/bin/sh\nexec /bin/sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, CacheName)
	r := New(filepath.Join(root, "work"), file)
	r.versionTimeout = 200 * time.Millisecond
	start := time.Now()
	got, counts := r.Identify(context.Background(), "slowtool", env(filepath.Dir(tool)))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Identify took %v", took)
	}
	if !counts || !strings.HasPrefix(got, tool+" sha256:") || strings.Contains(got, "\n") {
		t.Errorf("value %q, %v; want the digest without a version line", got, counts)
	}
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a timed-out version was cached (%v)", err)
	}
}
