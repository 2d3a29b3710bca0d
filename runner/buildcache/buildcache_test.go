package buildcache_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/buildcache"
	"github.com/porterkit/bootstrap/runner/buildcache/registrytest"
	"github.com/porterkit/bootstrap/runner/sign"
)

// tree makes a small work dir with a source tree, a build dir and an
// install output: files, an executable, a symlink, an empty dir.
func tree(t *testing.T) string {
	t.Helper()
	w := t.TempDir()
	files := map[string]string{"src/c/main.c": "int main(){}\n", "src/c/sub/deep.txt": "deep", "build/c/out.bin": "\x00\x01binary", "install/tool": "#!/bin/sh\necho hi\n"}
	for p, data := range files {
		full := filepath.Join(w, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(w, "install/tool"), 0o755)
	os.Symlink("sub/deep.txt", filepath.Join(w, "src/c/link"))
	os.MkdirAll(filepath.Join(w, "build/c/empty"), 0o755)
	// A read-only directory with a file in it (as Go's module cache has).
	os.MkdirAll(filepath.Join(w, "build/c/ro"), 0o755)
	os.WriteFile(filepath.Join(w, "build/c/ro/f"), []byte("x"), 0o444)
	os.Chmod(filepath.Join(w, "build/c/ro"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(w, "build/c/ro"), 0o755) })
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(w, "src/c/main.c"), old, old)
	return w
}

var trees = []string{"src/c", "build/c", "install/tool"}

// pack packs the work dir's trees into a file and returns its blob.
func pack(t *testing.T, w string) (string, buildcache.Blob) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.tar.zst")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := buildcache.Pack(context.Background(), w, trees, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := buildcache.FileDigest(p, buildcache.ArchiveMediaType)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

func TestPackUnpackKeepsTreeHashesModesAndTimes(t *testing.T) {
	w := tree(t)
	p, _ := pack(t, w)
	dest := filepath.Join(t.TempDir(), "staged")
	f, _ := os.Open(p)
	defer f.Close()
	if err := buildcache.Unpack(context.Background(), f, dest, trees); err != nil {
		t.Fatal(err)
	}
	for _, tr := range trees {
		want, _ := treehash.Sum(filepath.Join(w, tr))
		got, err := treehash.Sum(filepath.Join(dest, tr))
		if err != nil || got != want {
			t.Errorf("%s: tree hash %s (%v), want %s", tr, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(dest, "src/c/main.c"))
	if err != nil || fi.ModTime().Year() != 2020 {
		t.Errorf("main.c's mtime not kept: %v %v", fi.ModTime(), err)
	}
	if fi, _ := os.Stat(filepath.Join(dest, "install/tool")); fi.Mode().Perm() != 0o755 {
		t.Errorf("install/tool mode %v, want 0755", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Join(dest, "build/c/ro")); fi.Mode().Perm() != 0o555 {
		t.Errorf("build/c/ro mode %v, want 0555", fi.Mode().Perm())
	}
	os.Chmod(filepath.Join(dest, "build/c/ro"), 0o755) // for TempDir's cleanup
}

func TestUnpackRefusesEntriesOutsideTheTrees(t *testing.T) {
	w := tree(t)
	p, _ := pack(t, w)
	f, _ := os.Open(p)
	defer f.Close()
	err := buildcache.Unpack(context.Background(), f, t.TempDir(), []string{"src/c"})
	if err == nil || !strings.Contains(err.Error(), "outside the component's trees") {
		t.Fatalf("Unpack with fewer trees: %v, want an entry outside the trees", err)
	}
}

func key(t *testing.T) *sign.Key {
	t.Helper()
	k, _, err := sign.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRecordTrust(t *testing.T) {
	ctx := context.Background()
	mine, theirs := key(t), key(t)
	r := &buildcache.Record{Component: "c", Key: buildcache.Key("c", []string{"s1"}),
		Archive: buildcache.Blob{MediaType: buildcache.ArchiveMediaType, Digest: "sha256:" + strings.Repeat("ab", 32), Size: 3}}
	env, err := buildcache.Sign(ctx, r, theirs)
	if err != nil {
		t.Fatal(err)
	}
	unsigned := []byte(strings.Replace(string(env), `"signatures":[{`, `"signatures":[],"x":[{`, 1))
	tests := []struct {
		name    string
		env     []byte
		key     string
		trusted []ed25519.PublicKey
		want    string // "" means it verifies
	}{
		{"trusted signer", env, r.Key, []ed25519.PublicKey{mine.Public(), theirs.Public()}, ""},
		{"unknown signer", env, r.Key, []ed25519.PublicKey{mine.Public()}, "not trusted"},
		{"unsigned", unsigned, r.Key, []ed25519.PublicKey{theirs.Public()}, "unsigned"},
		{"not an envelope", []byte(`{"component":"c"}`), r.Key, []ed25519.PublicKey{theirs.Public()}, "not a signed envelope"},
		{"another key's record", env, buildcache.Key("c", []string{"s2"}), []ed25519.PublicKey{theirs.Public()}, "not " + buildcache.Key("c", []string{"s2"})[:16]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := buildcache.Open(ctx, tc.env, tc.key, tc.trusted)
			if tc.want == "" {
				if err != nil || v.Signer != sign.KeyID(theirs.Public()) || v.Component != "c" {
					t.Fatalf("Open: %v, %+v", err, v)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// roundTrip pushes a component to s, reads it back, and checks that a
// flipped byte in the stored archive is caught by Download.
func roundTrip(t *testing.T, s buildcache.Store, corrupt func(b buildcache.Blob)) {
	ctx := context.Background()
	w := tree(t)
	p, b := pack(t, w)
	k := key(t)
	r := &buildcache.Record{Component: "c", Key: buildcache.Key("c", []string{"sig"}), Archive: b}
	env, err := buildcache.Sign(ctx, r, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, r.Key); !errors.Is(err, buildcache.ErrNotFound) {
		t.Fatalf("Record before the push: %v, want ErrNotFound", err)
	}
	if err := s.Push(ctx, r.Key, env, b, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.Record(ctx, r.Key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := buildcache.Open(ctx, got, r.Key, []ed25519.PublicKey{k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dl")
	if err := buildcache.Download(ctx, s, v.Archive, dst); err != nil {
		t.Fatal(err)
	}
	corrupt(b)
	var de *buildcache.DigestError
	if err := buildcache.Download(ctx, s, v.Archive, dst); !errors.As(err, &de) {
		t.Fatalf("Download of a flipped archive: %v, want a *DigestError", err)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Errorf("a damaged download was left at %s", dst)
	}
}

// flip changes one byte in the middle of a file.
func flip(t *testing.T, p string) {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	s, err := buildcache.OpenStore("file://"+dir, buildcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s, func(b buildcache.Blob) {
		flip(t, filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(b.Digest, "sha256:")))
	})
}

func TestOCIStoreAgainstDistribution(t *testing.T) {
	reg := registrytest.Start(t)
	env := map[string]string{"REGISTRY_AUTH_FILE": reg.AuthFile}
	s, err := buildcache.OpenStore("oci://"+reg.Host+"/team/cache", buildcache.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s, func(b buildcache.Blob) {
		hexd := strings.TrimPrefix(b.Digest, "sha256:")
		flip(t, filepath.Join(reg.Storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data"))
	})
	// The docker config ($DOCKER_CONFIG/config.json, else
	// ~/.docker/config.json) is read too.
	docker := t.TempDir()
	data, _ := os.ReadFile(reg.AuthFile)
	os.WriteFile(filepath.Join(docker, "config.json"), data, 0o600)
	t.Setenv("DOCKER_CONFIG", docker)
	viaDocker, _ := buildcache.OpenStore("oci://"+reg.Host+"/team/cache", buildcache.Options{Getenv: func(string) string { return "" }})
	if _, err := viaDocker.Record(context.Background(), buildcache.Key("c", nil)); !errors.Is(err, buildcache.ErrNotFound) {
		t.Fatalf("Record with the docker config's credentials: %v, want ErrNotFound", err)
	}
	// Without credentials the registry refuses.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	anon, _ := buildcache.OpenStore("oci://"+reg.Host+"/team/cache", buildcache.Options{Getenv: func(string) string { return "" }})
	if _, err := anon.Record(context.Background(), buildcache.Key("c", nil)); err == nil || errors.Is(err, buildcache.ErrNotFound) {
		t.Fatalf("Record without credentials: %v, want the registry's refusal", err)
	}
}

func TestOpenStoreURLs(t *testing.T) {
	for _, u := range []string{"http://x/y", "oci://host", "file://relative/path", "s3://b/k"} {
		if _, err := buildcache.OpenStore(u, buildcache.Options{}); err == nil {
			t.Errorf("OpenStore(%q) accepted", u)
		}
	}
}

// TestOCIStoreSlowRegistryTimesOut: a registry that accepts connections
// and never answers costs the caller its deadline, not more.
func TestOCIStoreSlowRegistryTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	s, err := buildcache.OpenStore("oci://"+l.Addr().String()+"/slow/cache", buildcache.Options{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Record(ctx, buildcache.Key("c", nil))
	if err == nil || errors.Is(err, buildcache.ErrNotFound) {
		t.Fatalf("Record from a registry that never answers: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Record took %s with a 500ms deadline", d)
	}
}
