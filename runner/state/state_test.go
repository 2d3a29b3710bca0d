package state

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

func TestSaveLoadRemove(t *testing.T) {
	s := Open(t.TempDir())
	if cp, err := s.Load("go:make"); cp != nil || err != nil {
		t.Fatalf("missing checkpoint: %v, %v", cp, err)
	}
	in := &Checkpoint{Step: "go:make", Signature: "abc", Build: NewBuildID(), Inputs: map[string]string{"script": "./make.bash"},
		Deps: map[string]string{"go:patch": "b1"}, Started: time.Unix(10, 0).UTC(), Seconds: 1.5}
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	out, err := s.Load("go:make")
	if err != nil {
		t.Fatal(err)
	}
	if out.Signature != "abc" || out.Build != in.Build || out.Deps["go:patch"] != "b1" || out.Seconds != 1.5 {
		t.Errorf("loaded %+v", out)
	}
	if out.Inputs != nil {
		t.Error("inputs were decoded before they were asked for")
	}
	if err := out.DecodeInputs(); err != nil || out.Inputs["script"] != "./make.bash" {
		t.Errorf("inputs %v, %v", out.Inputs, err)
	}
	if err := s.Remove("go:make"); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Load("go:make"); cp != nil {
		t.Error("checkpoint survived Remove")
	}
	if err := s.Remove("go:make"); err != nil {
		t.Errorf("removing a missing checkpoint: %v", err)
	}
}

// TestCorrupt: a checkpoint that cannot be read is an error naming the
// file, never "not done" and never "done".
func TestCorrupt(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":  `{"step": "go:make", "signature": "ab`,
		"other step": `{"step": "go:install", "signature": "ab", "build": "x"}`,
		"no build":   `{"step": "go:make", "signature": "ab"}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := Open(t.TempDir())
			p := s.Path("go:make")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(content), 0o644)
			_, err := s.Load("go:make")
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want a CorruptError naming %s", err, p)
			}
		})
	}
}

func TestWriteFileAtomicLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f.json")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != content {
			t.Errorf("content %q, want %q", got, content)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("files left beside the target: %v", entries)
	}
}

// TestLockHeldByAnotherProcess takes the lock in a child process (flock is
// per open file, so the holder must be another process to be realistic)
// and checks that Acquire names it, and that the lock goes with it.
func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	lockFile := filepath.Join(dir, "lock")
	os.WriteFile(lockFile, []byte("pid 4242\nsince 2026-01-01T00:00:00Z\ncmd bootstrap run x.yaml\n"), 0o644)
	ready := filepath.Join(dir, "ready")
	holder := exec.Command("flock", "-x", lockFile, "sh", "-c", "touch "+ready+"; exec sleep 30")
	// flock(1) hands the locked descriptor to its child: kill both.
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := holder.Start(); err != nil {
		t.Skipf("flock(1) not available: %v", err)
	}
	defer holder.Process.Kill()
	for i := 0; ; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if i > 500 {
			t.Fatal("the child never took the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := Acquire(dir)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != 4242 || !strings.Contains(err.Error(), "process 4242 (bootstrap run x.yaml) since 2026-01-01T00:00:00Z") {
		t.Fatalf("err = %v", err)
	}
	syscall.Kill(-holder.Process.Pid, syscall.SIGKILL)
	holder.Wait()
	// Only flock(1) is our child; its child dies a moment later.
	var l *Lock
	for i := 0; i < 200; i++ {
		if l, err = Acquire(dir); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the lock outlived its holder: %v", err)
	}
	if data, _ := os.ReadFile(lockFile); !strings.Contains(string(data), "pid ") {
		t.Errorf("lock file does not name its holder: %q", data)
	}
	l.Release()
}

func TestWriteFileAtomicMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteFileAtomic(p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", fi.Mode(), err)
	}
}

// TestTreesFile: a trees file is found only for the build that wrote it,
// a damaged one is an error naming it, and Remove takes it away with the
// checkpoint.
func TestTreesFile(t *testing.T) {
	s := Open(t.TempDir())
	snap, err := treehash.Snap(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveTrees("go:make", &Trees{Build: "b1", Snapshots: map[string]*treehash.Snapshot{"/w/src/go": snap}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadTrees("go:make", "b1", "/w/src/go")
	if err != nil || got == nil || got.Hash != snap.Hash || len(got.Entries) != 1 {
		t.Errorf("LoadTrees = %+v, %v", got, err)
	}
	for _, c := range []struct{ build, path string }{{"b2", "/w/src/go"}, {"b1", "/w/other"}} {
		if got, err := s.LoadTrees("go:make", c.build, c.path); got != nil || err != nil {
			t.Errorf("LoadTrees(%s, %s) = %+v, %v; want nothing", c.build, c.path, got, err)
		}
	}
	os.WriteFile(s.TreesPath("go:make"), []byte(`{"build": `), 0o644)
	var ce *CorruptError
	if _, err := s.LoadTrees("go:make", "b1", "/w/src/go"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "trees file") {
		t.Errorf("damaged trees file: %v", err)
	}
	if err := s.Remove("go:make"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.TreesPath("go:make")); !os.IsNotExist(err) {
		t.Errorf("trees file survived Remove: %v", err)
	}
}
