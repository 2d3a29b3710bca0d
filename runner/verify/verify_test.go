package verify

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source/fetch"
	"github.com/porterkit/bootstrap/runner/source/gomod"
)

const mod, ver = "example.com/tool", "v1.0.0"

type member struct {
	name string
	data string
	mode fs.FileMode
}

var official = []member{
	{"bin/tool", "\x7fELF tool", 0o755},
	{"src/make.bash", "#!/bin/bash\necho make\n", 0o755},
	{"src/a.go", "package a\n", 0o644},
	{"VERSION", "v1\n", 0o644},
}

// writeZip writes members under the module prefix, in order, with fixed
// times, as cmd/distpack writes a module zip.
func writeZip(t *testing.T, path string, members []member) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: mod + "@" + ver + "/" + m.name, Method: zip.Deflate, Modified: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		h.SetMode(m.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fileProxy lays out a module proxy on disk (GOPROXY=file://…) serving the
// official zip, and returns a real gomod fetcher for it and the zip's h1.
func fileProxy(t *testing.T) (*gomod.Fetcher, string) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, mod, "@v", ver+".zip")
	os.MkdirAll(filepath.Dir(zipPath), 0o755)
	writeZip(t, zipPath, official)
	h1, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return gomod.New(gomod.Options{CacheDir: t.TempDir(), Proxy: "file://" + dir}), h1
}

func with(change func([]member) []member) []member {
	ms := append([]member(nil), official...)
	return change(ms)
}

func TestVerifyModuleZip(t *testing.T) {
	tests := []struct {
		name  string
		built []member
		want  []string // lines of the differences, each naming the file
	}{
		{name: "identical", built: official},
		{name: "one byte off", built: with(func(ms []member) []member {
			ms[2].data = "package b\n"
			return ms
		}), want: []string{mod + "@" + ver + "/src/a.go: sha256"}},
		{name: "a mode off", built: with(func(ms []member) []member {
			ms[1].mode = 0o644
			return ms
		}), want: []string{mod + "@" + ver + "/src/make.bash: mode -rw-r--r--, official -rwxr-xr-x"}},
		{name: "a file missing", built: with(func(ms []member) []member {
			return append(ms[:3:3], ms[4:]...)
		}), want: []string{mod + "@" + ver + "/VERSION: missing from the built archive"}},
		{name: "a file added and a size off", built: with(func(ms []member) []member {
			ms[0].data += "x"
			return append(ms, member{"extra", "", 0o644})
		}), want: []string{mod + "@" + ver + "/bin/tool: size 10, official 9; sha256", mod + "@" + ver + "/extra: only in the built archive"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mods, h1 := fileProxy(t)
			artifact := filepath.Join(t.TempDir(), "built.zip")
			writeZip(t, artifact, tc.built)
			v := &plan.Verification{File: artifact, Module: mod, Version: ver, H1: h1, Reference: "gomod:" + mod + "@" + ver + " " + h1}
			var log bytes.Buffer
			res, err := Verifier{Modules: mods}.Verify(context.Background(), v, &log)
			if tc.want == nil {
				if err != nil || !res.Identical {
					t.Fatalf("Verify: %v, %+v", err, res)
				}
				if !strings.Contains(log.String(), "bit-identical") {
					t.Errorf("log does not say bit-identical:\n%s", log.String())
				}
				return
			}
			var mm *MismatchError
			if !errors.As(err, &mm) {
				t.Fatalf("Verify: %v, want a MismatchError", err)
			}
			if len(res.Differences) != len(tc.want) {
				t.Errorf("differences: %v, want %d", res.Differences, len(tc.want))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), "\n  "+w) {
					t.Errorf("error does not list %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestVerifySHA256(t *testing.T) {
	dir := t.TempDir()
	officialZip := filepath.Join(dir, "official.zip")
	writeZip(t, officialZip, official)
	data, _ := os.ReadFile(officialZip)
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	built := filepath.Join(dir, "built.zip")
	writeZip(t, built, with(func(ms []member) []member { ms[3].data = "v2\n"; return ms }))
	v := &plan.Verification{File: officialZip, SHA256: hexSum, Reference: "sha256:" + hexSum}

	if res, err := (Verifier{}).Verify(context.Background(), v, io.Discard); err != nil || !res.Identical {
		t.Fatalf("identical file: %v %+v", err, res)
	}
	v.File = built
	_, err := Verifier{}.Verify(context.Background(), v, io.Discard)
	var mm *MismatchError
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), "not in the cache") {
		t.Fatalf("without the official file in the cache: %v", err)
	}
	cache := t.TempDir()
	if _, err := fetch.CacheAdd(cache, officialZip); err != nil {
		t.Fatal(err)
	}
	_, err = Verifier{CacheDir: cache}.Verify(context.Background(), v, io.Discard)
	if !errors.As(err, &mm) || len(mm.Result.Differences) != 1 || !strings.Contains(err.Error(), "/VERSION: sha256 ") {
		t.Fatalf("with the official file in the cache: %v", err)
	}
}

func TestVerifyMissingArtifact(t *testing.T) {
	v := &plan.Verification{File: filepath.Join(t.TempDir(), "nope.zip"), SHA256: strings.Repeat("0", 64)}
	_, err := Verifier{}.Verify(context.Background(), v, io.Discard)
	var mm *MismatchError
	if err == nil || errors.As(err, &mm) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing artifact: %v", err)
	}
}
