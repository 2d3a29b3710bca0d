package treehash

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestSumChangesWithEveryInput(t *testing.T) {
	base := func(t *testing.T) string {
		d := t.TempDir()
		write(t, filepath.Join(d, "a.txt"), "hello", 0o644)
		write(t, filepath.Join(d, "sub", "run.sh"), "#!/bin/sh\n", 0o755)
		if err := os.Symlink("a.txt", filepath.Join(d, "link")); err != nil {
			t.Fatal(err)
		}
		return d
	}
	ref, err := Sum(base(t))
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := Sum(base(t)); again != ref {
		t.Fatalf("the same tree in another place hashed differently: %s vs %s", again, ref)
	}
	changes := map[string]func(d string) error{
		"content":  func(d string) error { return os.WriteFile(filepath.Join(d, "a.txt"), []byte("hellO"), 0o644) },
		"exec bit": func(d string) error { return os.Chmod(filepath.Join(d, "sub", "run.sh"), 0o644) },
		"new file": func(d string) error { return os.WriteFile(filepath.Join(d, "b"), nil, 0o644) },
		"rename":   func(d string) error { return os.Rename(filepath.Join(d, "a.txt"), filepath.Join(d, "c.txt")) },
		"link": func(d string) error {
			os.Remove(filepath.Join(d, "link"))
			return os.Symlink("sub", filepath.Join(d, "link"))
		},
		"empty dir": func(d string) error { return os.Mkdir(filepath.Join(d, "e"), 0o755) },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			d := base(t)
			if err := change(d); err != nil {
				t.Fatal(err)
			}
			got, err := Sum(d)
			if err != nil {
				t.Fatal(err)
			}
			if got == ref {
				t.Errorf("changing the %s did not change the hash", name)
			}
		})
	}
}

func TestSumMissing(t *testing.T) {
	if _, err := Sum(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("no error for a missing path")
	}
}
