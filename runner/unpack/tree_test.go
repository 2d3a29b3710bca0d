package unpack

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTreeRefusesBadNames(t *testing.T) {
	for _, entry := range []string{"", "/abs", "../up", "a/../../up", "a//b", "./a", "a/"} {
		tr, err := NewTree(Dest{Root: t.TempDir()}, TreeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = tr.File(entry, 0o644, time.Time{}, 1, strings.NewReader("x"))
		tr.Close()
		if err == nil || !strings.Contains(err.Error(), "entry") {
			t.Errorf("File(%q): err = %v, want it refused", entry, err)
		}
	}
}

// TestTreeLinks: with LinksMayEscape a symlink may point anywhere, as git
// allows, but nothing is written through one that leaves the tree; without
// it such a link is refused, as in an archive.
func TestTreeLinks(t *testing.T) {
	outside := t.TempDir()
	for _, may := range []bool{true, false} {
		dest := t.TempDir()
		tr, err := NewTree(Dest{Root: dest}, TreeOptions{LinksMayEscape: may})
		if err != nil {
			t.Fatal(err)
		}
		errLink := tr.Symlink("out", outside)
		errUp := tr.Symlink("up", "..")
		errIn := tr.Symlink("in", "dir")
		tr.Dir("dir", 0o755, time.Time{})
		errThroughIn := tr.File("in/f", 0o644, time.Time{}, 2, strings.NewReader("ok"))
		errThroughOut := tr.File("out/evil", 0o644, time.Time{}, 4, strings.NewReader("evil"))
		errThroughUp := tr.File("up/evil", 0o644, time.Time{}, -1, strings.NewReader("evil"))
		errClose := tr.Close()
		if (errLink == nil) != may || (errUp == nil) != may {
			t.Errorf("LinksMayEscape %v: escaping links give %v, %v", may, errLink, errUp)
		}
		if errIn != nil || errThroughIn != nil || errClose != nil {
			t.Errorf("LinksMayEscape %v: link inside: %v, %v, %v", may, errIn, errThroughIn, errClose)
		}
		if may && (errThroughOut == nil || errThroughUp == nil) {
			t.Errorf("LinksMayEscape %v: wrote through escaping links: %v, %v", may, errThroughOut, errThroughUp)
		}
		if data, err := os.ReadFile(filepath.Join(dest, "dir/f")); err != nil || string(data) != "ok" {
			t.Errorf("dir/f = %q, %v", data, err)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("written outside the tree: %v", ents)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(dest), "evil")); err == nil {
			t.Fatal("written next to the tree")
		}
		if target, err := os.Readlink(filepath.Join(dest, "out")); may && (err != nil || target != outside) {
			t.Errorf("out -> %q, %v", target, err)
		}
	}
}

// TestTreeShortFile: a file shorter than its announced size is an error
// naming the entry, whether queued or streamed.
func TestTreeShortFile(t *testing.T) {
	for _, size := range []int64{10, maxQueued + 10} {
		tr, err := NewTree(Dest{Root: t.TempDir()}, TreeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = tr.File("short", 0o644, time.Time{}, size, io.LimitReader(strings.NewReader(strings.Repeat("x", int(size))), 5))
		if cerr := tr.Close(); err == nil {
			err = cerr
		}
		if err == nil || !strings.Contains(err.Error(), `entry "short"`) {
			t.Errorf("size %d: err = %v, want one naming the entry", size, err)
		}
	}
}
