package unpack

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

// zeros is an io.Reader of n zero bytes.
func zeros(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// gzBomb writes a .tar.gz holding one file of n zero bytes.
func gzBomb(t *testing.T, path string, n int64) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "bomb/zeros", Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(tw, zeros(n)); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sparseTar makes a GNU sparse tar of one file of logical size size
// (almost all hole) with GNU tar, which is how such archives are made.
func sparseTar(t *testing.T, path, size string) {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar is not installed")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "sparse", "holes")
	os.MkdirAll(filepath.Dir(f), 0o755)
	os.WriteFile(f, []byte("data at the start"), 0o644)
	if out, err := exec.Command("truncate", "-s", size, f).CombinedOutput(); err != nil {
		t.Fatalf("truncate: %v %s", err, out)
	}
	if out, err := exec.Command("tar", "-C", dir, "-cSf", path, "sparse").CombinedOutput(); err != nil {
		t.Fatalf("tar -S: %v %s", err, out)
	}
}

// zipBomb writes a zip with one deflated file of n zero bytes.
func zipBomb(t *testing.T, path string, n int64) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("bomb/zeros")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(w, zeros(n))
	zw.Close()
	os.WriteFile(path, buf.Bytes(), 0o644)
}

// TestLimitStopsBombs unpacks archives that expand far past their limit
// and checks that each stops at it, with an error naming the archive and
// the limit, having written no more than the limit.
func TestLimitStopsBombs(t *testing.T) {
	const limit = 8 << 20
	cases := []struct {
		name string
		make func(t *testing.T, p string)
	}{
		{"tar.gz of zeros", func(t *testing.T, p string) { gzBomb(t, p, 24<<20) }},
		{"sparse tar", func(t *testing.T, p string) { sparseTar(t, p, "1G") }},
		{"zip of zeros", func(t *testing.T, p string) { zipBomb(t, p, 24<<20) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			archive := filepath.Join(dir, "bomb")
			c.make(t, archive)
			st, _ := os.Stat(archive)
			dest := filepath.Join(dir, "out")
			err := FileIn(context.Background(), archive, Dest{Root: dest, MaxSize: limit}, 0)
			var tl *TooLargeError
			if !errors.As(err, &tl) || tl.Limit != limit {
				t.Fatalf("archive of %d bytes: got %v, want a *TooLargeError at %d", st.Size(), err, limit)
			}
			msg := err.Error()
			if !strings.Contains(msg, archive) || !strings.Contains(msg, "8388608") || strings.Contains(msg, "again") {
				t.Errorf("error %q should name the archive and the limit, and not advise a rerun", msg)
			}
			if used := du(t, dest); used > limit {
				t.Errorf("wrote %d bytes, more than the limit", used)
			}
		})
	}
}

// TestLimitAllowsWhatFits: an archive exactly at its limit unpacks whole.
func TestLimitAllowsWhatFits(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "fits.tar.gz")
	gzBomb(t, archive, 1<<20)
	dest := filepath.Join(dir, "out")
	if err := FileIn(context.Background(), archive, Dest{Root: dest, MaxSize: 1 << 20}, 0); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dest, "bomb/zeros")); err != nil || st.Size() != 1<<20 {
		t.Fatalf("unpacked file: %v, %v", st, err)
	}
	if _, err := treehash.Sum(dest); err != nil {
		t.Fatal(err)
	}
}

// du is the disk space the files under dir take, in bytes.
func du(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
