package unpack

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPermsCreate(t *testing.T) {
	tests := []struct {
		umask     uint32
		mode      fs.FileMode
		wantPerm  uint32
		wantChmod bool
	}{
		{0o022, 0o644, 0o644, false},
		{0o022, 0o755, 0o755, false},
		{0o022, 0o444, 0o444, false},
		{0o022, 0o666, 0o600, true},
		{0o077, 0o644, 0o600, true},
		{0o077, 0o700, 0o700, false},
		{0o000, 0o777, 0o777, false},
		{0o777, 0o644, 0o600, true}, // umask unknown
	}
	for _, tt := range tests {
		perm, chmod := perms{umask: tt.umask}.create(tt.mode)
		if perm != tt.wantPerm || chmod != tt.wantChmod {
			t.Errorf("umask %#o, mode %v: create gives %#o, chmod %v; want %#o, %v", tt.umask, tt.mode, perm, chmod, tt.wantPerm, tt.wantChmod)
		}
	}
}

// TestNewPermsReadsUmask checks the umask read from /proc against the one
// umask(2) reports (set and restored here, in a test that runs alone).
func TestNewPermsReadsUmask(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	if got := newPerms().umask; got != 0o027 {
		t.Errorf("umask read as %#o, want 0o027", got)
	}
}

// TestManyFiles unpacks thousands of files of every size around the queued
// limit, spread over directories, and checks each file's bytes, mode and
// mtime: the writers and the inline path must give the same tree as one
// writer would.
func TestManyFiles(t *testing.T) {
	src := rand.NewChaCha8([32]byte{1})
	rng := rand.New(src)
	sizes := []int{0, 1, 4095, 4096, maxQueued - 1, maxQueued, maxQueued + 1, 3 * maxQueued}
	modes := []int64{0o644, 0o755, 0o444, 0o600, 0o666, 0o700}
	var entries []entry
	want := map[string]entry{}
	for i := range 2000 {
		size := rng.IntN(3000)
		if i%100 == 0 {
			size = sizes[(i/100)%len(sizes)]
		}
		body := make([]byte, size)
		src.Read(body)
		e := entry{name: fmt.Sprintf("pkg/d%02d/s%d/f%04d", i%37, i%5, i), body: string(body), mode: modes[i%len(modes)]}
		entries = append(entries, e)
		want[strings.TrimPrefix(e.name, "pkg/")] = e
	}
	_, archive, dest := setup(t, compress(t, "tar.gz", makeTar(t, entries)))
	if err := File(context.Background(), archive, dest, 1); err != nil {
		t.Fatal(err)
	}
	got := 0
	err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got++
		rel, _ := filepath.Rel(dest, p)
		e, ok := want[rel]
		if !ok {
			t.Errorf("unexpected file %s", rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(data, []byte(e.body)) {
			t.Errorf("%s: %d bytes differ from the archive's %d", rel, len(data), len(e.body))
		}
		st, _ := os.Lstat(p)
		if st.Mode() != fs.FileMode(e.mode) {
			t.Errorf("%s: mode %v, want %v", rel, st.Mode(), fs.FileMode(e.mode))
		}
		if !st.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", rel, st.ModTime(), mtime)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("%d files unpacked, want %d", got, len(want))
	}
}

// TestLaterEntryWins: an archive may name a path twice; the later entry
// replaces the earlier one, even while the earlier is still queued for a
// writer, and a file never writes through a symlink that was there before.
func TestLaterEntryWins(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		check   func(t *testing.T, dest string)
	}{
		{"file then file", []entry{
			{name: "a", body: "first"},
			{name: "b", body: "other"},
			{name: "a", body: "second", mode: 0o600},
		}, func(t *testing.T, dest string) {
			wantFile(t, dest, "a", "second", 0o600)
			wantFile(t, dest, "b", "other", 0o644)
		}},
		{"one path a hundred times", manyVersions(100), func(t *testing.T, dest string) {
			wantFile(t, dest, "a", "version 99", 0o644)
		}},
		{"file then symlink", []entry{
			{name: "a", body: "first"},
			{name: "a", typ: tar.TypeSymlink, link: "b"},
			{name: "b", body: "target"},
		}, func(t *testing.T, dest string) {
			if l, err := os.Readlink(filepath.Join(dest, "a")); err != nil || l != "b" {
				t.Errorf("a: link %q, %v; want b", l, err)
			}
		}},
		{"symlink then file", []entry{
			{name: "b", body: "untouched"},
			{name: "a", typ: tar.TypeSymlink, link: "b"},
			{name: "a", body: "replaces the link"},
		}, func(t *testing.T, dest string) {
			wantFile(t, dest, "a", "replaces the link", 0o644)
			wantFile(t, dest, "b", "untouched", 0o644)
		}},
		{"file then directory", []entry{
			{name: "a", body: "first"},
			{name: "a/", typ: tar.TypeDir, mode: 0o755},
			{name: "a/x", body: "inside"},
		}, func(t *testing.T, dest string) {
			wantFile(t, dest, "a/x", "inside", 0o644)
		}},
		{"hard link to a queued file", []entry{
			{name: "a", body: "shared"},
			{name: "h", typ: tar.TypeLink, link: "a"},
		}, func(t *testing.T, dest string) {
			wantFile(t, dest, "h", "shared", 0o644)
			sa, _ := os.Stat(filepath.Join(dest, "a"))
			sh, _ := os.Stat(filepath.Join(dest, "h"))
			if !os.SameFile(sa, sh) {
				t.Error("h is not a hard link to a")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			box, archive, dest := setup(t, makeTar(t, tt.entries))
			if err := File(context.Background(), archive, dest, 0); err != nil {
				t.Fatal(err)
			}
			tt.check(t, dest)
			assertContained(t, box, archive, dest)
		})
	}
}

// manyVersions names "a" n times, each time with other files in between.
func manyVersions(n int) []entry {
	var entries []entry
	for i := range n {
		entries = append(entries, entry{name: "a", body: fmt.Sprintf("version %d", i)})
		for j := range 3 {
			entries = append(entries, entry{name: fmt.Sprintf("b%d-%d", i, j), body: "x"})
		}
	}
	return entries
}

func wantFile(t *testing.T, dest, rel, body string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(dest, rel)
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want a regular file %v", rel, st.Mode(), mode)
	}
	if data, _ := os.ReadFile(p); string(data) != body {
		t.Errorf("%s holds %q, want %q", rel, data, body)
	}
}

// TestWriterErrorNamesEntry: a file that cannot be created (a directory is
// in its way) fails the whole unpack with an error naming the archive and
// the entry, however many files are queued around it; it neither hangs nor
// reports another entry.
func TestWriterErrorNamesEntry(t *testing.T) {
	var entries []entry
	for i := range 200 {
		entries = append(entries, entry{name: fmt.Sprintf("f%03d", i), body: "x"})
	}
	entries = append(entries, entry{name: "blocked", body: "y"})
	for i := range 200 {
		entries = append(entries, entry{name: fmt.Sprintf("g%03d", i), body: "z"})
	}
	_, archive, dest := setup(t, makeTar(t, entries))
	if err := os.MkdirAll(filepath.Join(dest, "blocked"), 0o755); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- File(context.Background(), archive, dest, 0) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("unpack hangs after a writer's error")
	}
	if err == nil {
		t.Fatal("unpack succeeded over a directory")
	}
	for _, want := range []string{archive, `entry "blocked"`, "would replace a directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	var ee *EntryError
	if !errors.As(err, &ee) || ee.Entry != "blocked" {
		t.Errorf("error %v is not an EntryError for blocked", err)
	}
}

// TestPathThroughFile: an entry below a path that an earlier entry made a
// file is refused, naming the later entry, even when the file is still
// queued for a writer when the later entry is read.
func TestPathThroughFile(t *testing.T) {
	for range 20 {
		_, archive, dest := setup(t, makeTar(t, []entry{{name: "a", body: "file"}, {name: "a/b", body: "below"}}))
		err := File(context.Background(), archive, dest, 0)
		if err == nil {
			t.Fatal("a/b unpacked below the file a")
		}
		if !strings.Contains(err.Error(), `entry "a/b"`) {
			t.Fatalf("error %q does not name a/b", err)
		}
		wantFile(t, dest, "a", "file", 0o644)
	}
}
