package unpack

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

var mtime = time.Date(2023, 4, 4, 12, 0, 0, 0, time.UTC)

// entry describes one tar entry to build.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func makeTar(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Linkname: e.link, ModTime: mtime, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t *testing.T, format string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch format {
	case "tar":
		return data
	case "tar.gz":
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case "tar.xz":
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "tar.zst":
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "tar.bz2":
		// The standard library only decompresses bzip2.
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("bzip2 not installed (Debian package bzip2)")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	default:
		t.Fatalf("compress: unknown format %q", format)
	}
	return buf.Bytes()
}

var goodTree = []entry{
	{name: "pkg-1.0/", typ: tar.TypeDir, mode: 0o755},
	{name: "pkg-1.0/src/", typ: tar.TypeDir, mode: 0o750},
	{name: "pkg-1.0/src/make.bash", body: "#!/bin/sh\necho hi\n", mode: 0o755},
	{name: "pkg-1.0/README", body: "read me\n"},
	{name: "pkg-1.0/src/link", typ: tar.TypeSymlink, link: "../README"},
	{name: "pkg-1.0/hard", typ: tar.TypeLink, link: "pkg-1.0/README"},
	{name: "pkg-1.0/implicit/dir/file", body: "x"},
}

func checkGoodTree(t *testing.T, dest string) {
	t.Helper()
	want := map[string]string{"README": "read me\n", "src/make.bash": "#!/bin/sh\necho hi\n", "hard": "read me\n", "src/link": "read me\n", "implicit/dir/file": "x"}
	for name, body := range want {
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || string(got) != body {
			t.Errorf("%s = %q, %v; want %q", name, got, err, body)
		}
	}
	if target, err := os.Readlink(filepath.Join(dest, "src/link")); err != nil || target != "../README" {
		t.Errorf("src/link -> %q, %v", target, err)
	}
	modes := map[string]fs.FileMode{"src/make.bash": 0o755, "README": 0o644, "src": fs.ModeDir | 0o750}
	for name, mode := range modes {
		st, err := os.Stat(filepath.Join(dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s mode %v, want %v", name, st.Mode(), mode)
		}
		if !st.ModTime().Equal(mtime) {
			t.Errorf("%s mtime %v, want %v", name, st.ModTime(), mtime)
		}
	}
	a, _ := os.Stat(filepath.Join(dest, "README"))
	b, _ := os.Stat(filepath.Join(dest, "hard"))
	if !os.SameFile(a, b) {
		t.Error("hard is not a hard link to README")
	}
}

func TestFormats(t *testing.T) {
	data := makeTar(t, goodTree)
	for _, format := range []string{"tar", "tar.gz", "tar.xz", "tar.bz2", "tar.zst"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			archive := filepath.Join(dir, "archive") // no extension: detection is by content
			if err := os.WriteFile(archive, compress(t, format, data), 0o644); err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(dir, "dest")
			if err := File(context.Background(), archive, dest, 1); err != nil {
				t.Fatal(err)
			}
			checkGoodTree(t, dest)
		})
	}
}

func TestZip(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, mode fs.FileMode, body string) {
		h := &zip.FileHeader{Name: name, Modified: mtime}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	add("go/", fs.ModeDir|0o755, "")
	add("go/bin/run", 0o755, "run")
	add("go/lnk", fs.ModeSymlink|0o777, "bin/run")
	zw.Close()
	dir := t.TempDir()
	archive := filepath.Join(dir, "a.zip")
	os.WriteFile(archive, buf.Bytes(), 0o644)
	dest := filepath.Join(dir, "dest")
	if err := File(context.Background(), archive, dest, 1); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "lnk")); err != nil || string(b) != "run" {
		t.Errorf("lnk: %q %v", b, err)
	}
	if st, _ := os.Stat(filepath.Join(dest, "bin/run")); st.Mode() != 0o755 || !st.ModTime().Equal(mtime) {
		t.Errorf("bin/run: %v %v", st.Mode(), st.ModTime())
	}
}

func TestNotArchive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "plain.patch")
	os.WriteFile(p, []byte("--- a\n+++ b\n"), 0o644)
	err := File(context.Background(), p, filepath.Join(dir, "dest"), 0)
	if !errors.Is(err, ErrNotArchive) {
		t.Fatalf("err = %v, want ErrNotArchive", err)
	}
}

// hostile are archives that must be refused; want is a fragment of the error
// besides the archive and entry names.
var hostile = []struct {
	name    string
	entries []entry
	entry   string
	want    string
}{
	{"dotdot", []entry{{name: "../evil", body: "x"}}, "../evil", `".."`},
	{"dotdot-inside", []entry{{name: "a/../../evil", body: "x"}}, "a/../../evil", `".."`},
	{"absolute", []entry{{name: "/tmp/evil", body: "x"}}, "/tmp/evil", "absolute"},
	{"symlink-up", []entry{{name: "l", typ: tar.TypeSymlink, link: "../outside"}}, "l", "escapes"},
	{"symlink-abs", []entry{{name: "l", typ: tar.TypeSymlink, link: "/etc"}}, "l", "absolute"},
	{"hardlink-up", []entry{{name: "h", typ: tar.TypeLink, link: "../outside"}}, "h", `".."`},
	{"hardlink-abs", []entry{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}, "h", "absolute"},
	{"hardlink-through-symlink", []entry{
		{name: "d", typ: tar.TypeDir},
		{name: "d/s", typ: tar.TypeSymlink, link: ".."},
		{name: "h", typ: tar.TypeLink, link: "d/s/../outside"},
	}, "h", `".."`},
	{"through-symlink", []entry{
		{name: "a", typ: tar.TypeSymlink, link: "."},
		{name: "a/b", typ: tar.TypeSymlink, link: ".."},
		{name: "b/evil", body: "x"},
	}, "a/b", "escapes"},
	{"symlink-retargeted", []entry{
		{name: "s", typ: tar.TypeSymlink, link: "a/.."},
		{name: "a", typ: tar.TypeSymlink, link: "."},
		{name: "s/evil", body: "x"},
	}, "s/evil", "escapes"},
	{"symlink-retargeted-late", []entry{
		{name: "s", typ: tar.TypeSymlink, link: "a/.."},
		{name: "a", typ: tar.TypeSymlink, link: "."},
	}, "s", "escapes"},
	{"chardev", []entry{{name: "null", typ: tar.TypeChar}}, "null", "device"},
	{"blockdev", []entry{{name: "sda", typ: tar.TypeBlock}}, "sda", "device"},
	{"fifo", []entry{{name: "pipe", typ: tar.TypeFifo}}, "pipe", "fifo"},
}

// setup makes <tmp>/box/archive and returns box and the dest inside it.
func setup(t testing.TB, data []byte) (box, archive, dest string) {
	box = filepath.Join(t.TempDir(), "box")
	os.Mkdir(box, 0o755)
	archive = filepath.Join(box, "archive")
	if err := os.WriteFile(archive, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return box, archive, filepath.Join(box, "dest")
}

// assertContained fails when anything besides archive and dest's subtree
// exists in box or next to it.
func assertContained(t testing.TB, box, archive, dest string) {
	t.Helper()
	for _, dir := range []string{filepath.Dir(box)} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != filepath.Base(box) {
				t.Errorf("written outside dest: %s", filepath.Join(dir, e.Name()))
			}
		}
	}
	ents, _ := os.ReadDir(box)
	for _, e := range ents {
		p := filepath.Join(box, e.Name())
		if p != archive && p != dest {
			t.Errorf("written outside dest: %s", p)
		}
	}
}

func TestHostile(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			box, archive, dest := setup(t, makeTar(t, tc.entries))
			err := File(context.Background(), archive, dest, 0)
			if err == nil {
				t.Fatal("archive accepted")
			}
			for _, want := range []string{archive, `"` + tc.entry + `"`, tc.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
			assertContained(t, box, archive, dest)
		})
	}
}

func TestHostileZip(t *testing.T) {
	cases := []struct {
		name, entry, body string
		mode              fs.FileMode
		want              string
	}{
		{"dotdot", "../evil", "x", 0o644, `".."`},
		{"symlink-up", "l", "../../etc", fs.ModeSymlink | 0o777, "escapes"},
		{"fifo", "p", "", fs.ModeNamedPipe | 0o644, "fifo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			h := &zip.FileHeader{Name: tc.entry}
			h.SetMode(tc.mode)
			w, _ := zw.CreateHeader(h)
			w.Write([]byte(tc.body))
			zw.Close()
			box, archive, dest := setup(t, buf.Bytes())
			err := File(context.Background(), archive, dest, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), archive) {
				t.Fatalf("err = %v, want one naming %s and %q", err, archive, tc.want)
			}
			assertContained(t, box, archive, dest)
		})
	}
}

func TestCanceled(t *testing.T) {
	_, archive, dest := setup(t, makeTar(t, goodTree))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := File(ctx, archive, dest, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(makeTar(f, goodTree), 1)
	for _, tc := range hostile {
		f.Add(makeTar(f, tc.entries), 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, strip int) {
		if strip < 0 || strip > 3 {
			return
		}
		box, archive, dest := setup(t, data)
		File(context.Background(), archive, dest, strip)
		assertContained(t, box, archive, dest)
		// Whatever was accepted must not leave a link pointing out of dest.
		filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			target, _ := os.Readlink(p)
			abs := filepath.Join(filepath.Dir(p), target)
			real, err := filepath.EvalSymlinks(abs)
			if err == nil && !strings.HasPrefix(real, dest+string(filepath.Separator)) && real != dest {
				t.Errorf("symlink %s -> %s escapes dest", p, target)
			}
			return nil
		})
	})
}
