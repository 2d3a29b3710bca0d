package remote

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPutChecksDigest stores a file under its sha256 only when the bytes
// that arrived have it, and `have` lists what is stored.
func TestPutChecksDigest(t *testing.T) {
	a := Agent{Dir: t.TempDir()}
	data := []byte("a source tarball")
	sum := fmt.Sprintf("%x", sha256.Sum256(data))
	if _, err := a.Put(bytes.NewReader(data[:5]), sum); err == nil || !strings.Contains(err.Error(), "damaged in transfer") {
		t.Errorf("truncated transfer: %v, want a digest mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(a.CacheDir(), "sha256", sum)); err == nil {
		t.Error("a damaged file was stored")
	}
	if n, err := a.Put(bytes.NewReader(data), sum); err != nil || n != int64(len(data)) {
		t.Fatalf("put: %d, %v", n, err)
	}
	var have bytes.Buffer
	if err := a.Have(&have); err != nil {
		t.Fatal(err)
	}
	if have.String() != "cache "+sum+"\n" {
		t.Errorf("have: %q", have.String())
	}
	if left, _ := filepath.Glob(filepath.Join(a.CacheDir(), "sha256", ".partial-*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// TestUnpackRefusesEscapes refuses a recipe tarball whose names leave the
// recipe dir or that holds links, and keeps the recipe it had.
func TestUnpackRefusesEscapes(t *testing.T) {
	a := Agent{Dir: t.TempDir()}
	pack := func(name string, typ byte) *bytes.Buffer {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 2, Typeflag: typ, Linkname: "/etc/passwd"})
		if typ == tar.TypeReg {
			tw.Write([]byte("x\n"))
		}
		tw.Close()
		return &buf
	}
	if err := a.Unpack("r-amd64", pack("recipes/r.yaml", tar.TypeReg)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name string
		typ  byte
	}{{"../escape", tar.TypeReg}, {"/abs", tar.TypeReg}, {"link", tar.TypeSymlink}} {
		if err := a.Unpack("r-amd64", pack(bad.name, bad.typ)); err == nil {
			t.Errorf("%s (type %c) unpacked", bad.name, bad.typ)
		}
	}
	if _, err := os.Stat(filepath.Join(a.RecipeDir("r-amd64"), "recipes", "r.yaml")); err != nil {
		t.Errorf("the good recipe is gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "recipes", "escape")); err == nil {
		t.Error("a file escaped the recipe dir")
	}
	if err := a.Unpack("../x", pack("a", tar.TypeReg)); err == nil {
		t.Error("a key with a slash was taken")
	}
}
