package treehash

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// snapTree is a small tree with a file, an executable, a symlink and a
// subdirectory.
func snapTree(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	write(t, filepath.Join(d, "a.txt"), "hello", 0o644)
	write(t, filepath.Join(d, "sub", "run.sh"), "#!/bin/sh\n", 0o755)
	if err := os.Symlink("a.txt", filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSnapHashIsSum(t *testing.T) {
	d := snapTree(t)
	for _, p := range []string{d, filepath.Join(d, "a.txt"), filepath.Join(d, "link")} {
		snap, err := Snap(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Sum(p)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Hash != sum {
			t.Errorf("Snap(%s).Hash = %s, Sum = %s", p, snap.Hash, sum)
		}
		stat, err := StatSum(p)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Stat != stat {
			t.Errorf("Snap(%s).Stat = %s, StatSum = %s", p, snap.Stat, stat)
		}
	}
}

// TestStatSumAndFirstChange changes a tree in each way that matters (and
// one that does not) and checks what the stat fingerprint, a new snapshot
// taken with the old one as cache, and FirstChange say.
func TestStatSumAndFirstChange(t *testing.T) {
	later := time.Now().Add(time.Hour)
	cases := []struct {
		name       string
		change     func(d string) error
		statChange bool
		first      string // "" when the content is the same
	}{
		{"nothing", func(string) error { return nil }, false, ""},
		{"content, same size", func(d string) error { return os.WriteFile(filepath.Join(d, "a.txt"), []byte("hellO"), 0o644) }, true, "a.txt changed"},
		{"content, mtime restored", func(d string) error {
			fi, _ := os.Stat(filepath.Join(d, "a.txt"))
			if err := os.WriteFile(filepath.Join(d, "a.txt"), []byte("jello"), 0o644); err != nil {
				return err
			}
			return os.Chtimes(filepath.Join(d, "a.txt"), fi.ModTime(), fi.ModTime())
		}, true, "a.txt changed"},
		{"truncated", func(d string) error { return os.Truncate(filepath.Join(d, "sub", "run.sh"), 3) }, true, "sub/run.sh changed"},
		{"exec bit", func(d string) error { return os.Chmod(filepath.Join(d, "sub", "run.sh"), 0o644) }, true, "sub/run.sh changed"},
		{"touched only", func(d string) error { return os.Chtimes(filepath.Join(d, "a.txt"), later, later) }, true, ""},
		{"added", func(d string) error { return os.WriteFile(filepath.Join(d, "sub", "new"), nil, 0o644) }, true, "sub/new added"},
		{"removed", func(d string) error { return os.Remove(filepath.Join(d, "sub", "run.sh")) }, true, "sub/run.sh removed"},
		{"link retargeted", func(d string) error {
			os.Remove(filepath.Join(d, "link"))
			return os.Symlink("sub", filepath.Join(d, "link"))
		}, true, "link changed"},
		{"temp file came and went", func(d string) error {
			p := filepath.Join(d, "sub", ".tmp")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				return err
			}
			return os.Remove(p)
		}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := snapTree(t)
			before, err := Snap(d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.change(d); err != nil {
				t.Fatal(err)
			}
			stat, err := StatSum(d)
			if err != nil {
				t.Fatal(err)
			}
			if got := stat != before.Stat; got != c.statChange {
				t.Errorf("stat fingerprint changed = %v, want %v", got, c.statChange)
			}
			after, err := Snap(d, before)
			if err != nil {
				t.Fatal(err)
			}
			sum, _ := Sum(d)
			if after.Hash != sum {
				t.Errorf("Snap with a cache hashed %s, Sum says %s", after.Hash, sum)
			}
			if got := before.FirstChange(after); got != c.first {
				t.Errorf("FirstChange = %q, want %q", got, c.first)
			}
			if (after.Hash != before.Hash) != (c.first != "") {
				t.Errorf("hash changed = %v, but first change %q", after.Hash != before.Hash, c.first)
			}
		})
	}
}

// TestSnapReusesDigestsOfUnchangedFiles shows that a file whose stat is
// unchanged is not read again: a cached digest (here a made-up one) is
// taken as is, while a file whose stat differs is read.
func TestSnapReusesDigestsOfUnchangedFiles(t *testing.T) {
	d := snapTree(t)
	prev, err := Snap(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	fake := strings.Repeat("0", 64)
	for i := range prev.Entries {
		if prev.Entries[i].Type == "f" {
			prev.Entries[i].Digest = fake
		}
	}
	again, err := Snap(d, prev)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range again.Entries {
		if e.Type == "f" && e.Digest != fake {
			t.Errorf("%s was read again although its stat is unchanged", e.Path)
		}
	}
	// A changed stat means reading the file.
	write(t, filepath.Join(d, "a.txt"), "hello!", 0o644)
	again, err = Snap(d, prev)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range again.Entries {
		if e.Path == "a.txt" && e.Digest == fake {
			t.Errorf("a.txt changed size but its cached digest was reused")
		}
	}
}

func TestSnapMissingPath(t *testing.T) {
	if _, err := StatSum(filepath.Join(t.TempDir(), "nope")); !os.IsNotExist(err) {
		t.Errorf("StatSum of a missing path: %v, want not-exist", err)
	}
}
