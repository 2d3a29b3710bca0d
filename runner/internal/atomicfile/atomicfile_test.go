package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// entries lists dir's names, to catch temporary files left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	for _, tt := range []struct {
		name     string
		old      *fs.FileMode // mode of an existing file; nil: none
		perm     fs.FileMode
		wantMode fs.FileMode
	}{
		{"new file gets perm", nil, 0o644, 0o644},
		{"new executable", nil, 0o755, 0o755},
		{"existing file keeps its mode", ptr(0o640), 0o644, 0o640},
		{"existing read-only file keeps its mode", ptr(0o444), 0o644, 0o444},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "sub", "recipe.yaml")
			if tt.old != nil {
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte("old content that is longer\n"), *tt.old); err != nil {
					t.Fatal(err)
				}
				os.Chmod(p, *tt.old)
			}
			if err := Write(p, []byte("new\n"), tt.perm); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(p); string(got) != "new\n" {
				t.Errorf("content %q", got)
			}
			if fi.Mode().Perm() != tt.wantMode {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tt.wantMode)
			}
			if names := entries(t, filepath.Dir(p)); len(names) != 1 {
				t.Errorf("files beside the target: %v", names)
			}
		})
	}
}

func ptr(m fs.FileMode) *fs.FileMode { return &m }

// TestWriteFailsOnDirectory: the rename cannot replace a directory; the
// error names the path, the directory stays and no temporary file remains.
func TestWriteFailsOnDirectory(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "target")
	os.MkdirAll(filepath.Join(p, "inside"), 0o755)
	err := Write(p, []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), "write "+p) {
		t.Fatalf("err = %v, want one naming %s", err, p)
	}
	if fi, err := os.Stat(filepath.Join(p, "inside")); err != nil || !fi.IsDir() {
		t.Errorf("the directory was touched: %v", err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("files left: %v", names)
	}
}

// TestWriteFailsHalfway makes the write itself fail with a real file size
// limit (ulimit -f) in a child process: the old file must be intact, with
// its mode, and no temporary file may remain.
func TestWriteFailsHalfway(t *testing.T) {
	if p := os.Getenv("ATOMICFILE_HELPER_PATH"); p != "" {
		// The child: 64 KiB against a limit of a few KiB.
		if err := Write(p, bytes.Repeat([]byte("x"), 64<<10), 0o644); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.Exit(0)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "recipe.yaml")
	const old = "name: intact\n"
	if err := os.WriteFile(p, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `ulimit -f 4 && exec "$0" -test.run='^TestWriteFailsHalfway$'`, os.Args[0])
	cmd.Env = append(os.Environ(), "ATOMICFILE_HELPER_PATH="+p)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(string(out), "write "+p) {
		t.Fatalf("child: %v, want exit 3 naming %s; output:\n%s", err, p, out)
	}
	if got, _ := os.ReadFile(p); string(got) != old {
		t.Errorf("old file now %q", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("old file's mode now %v", fi.Mode())
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("files left: %v", names)
	}
}
