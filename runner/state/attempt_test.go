package state

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAttemptRoundTrip: an attempt is saved beside the checkpoint, under a
// name no checkpoint listing matches, read back as written, and forgotten
// by Remove (what execute and `bootstrap clean` call).
func TestAttemptRoundTrip(t *testing.T) {
	s := Open(t.TempDir())
	if a, err := s.LoadAttempt("go:make"); a != nil || err != nil {
		t.Fatalf("missing attempt: %v, %v", a, err)
	}
	a := NewAttempt("go:make", NewBuildID(), "/w/logs/go/make.log")
	if a.PID != os.Getpid() || a.PIDStart == 0 || a.Outcome != Started {
		t.Fatalf("NewAttempt = %+v", a)
	}
	if err := s.SaveAttempt(a); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(s.dir, "*", "*.json")); len(m) != 0 {
		t.Errorf("an attempt file looks like a checkpoint: %v", m)
	}
	a.Outcome, a.Exit, a.Error, a.Ended = Failed, 2, "exit status 2", time.Now().UTC().Truncate(time.Second)
	if err := s.SaveAttempt(a); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadAttempt("go:make")
	if err != nil {
		t.Fatal(err)
	}
	if got.Build != a.Build || got.PID != a.PID || got.PIDStart != a.PIDStart || got.Outcome != Failed ||
		got.Exit != 2 || got.Error != a.Error || !got.Ended.Equal(a.Ended) || !got.Started.Equal(a.Started) || got.Log != a.Log {
		t.Errorf("loaded %+v, saved %+v", got, a)
	}
	if err := s.Remove("go:make"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LoadAttempt("go:make"); got != nil {
		t.Error("attempt survived Remove")
	}
	if err := s.RemoveAttempt("go:make"); err != nil {
		t.Errorf("removing a missing attempt: %v", err)
	}
}

// TestAttemptAlive: only a started attempt of a live process with the
// recorded start time is alive; a dead run, a reused PID and an attempt
// that ended are not.
func TestAttemptAlive(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	self := NewAttempt("a:b", "x", "")
	tests := []struct {
		name string
		a    Attempt
		want bool
	}{
		{"this process", *self, true},
		{"no start time recorded", Attempt{PID: os.Getpid(), Outcome: Started}, true},
		{"dead process", Attempt{PID: dead.Process.Pid, PIDStart: self.PIDStart, Outcome: Started}, false},
		{"PID reused by a later process", Attempt{PID: os.Getpid(), PIDStart: self.PIDStart + 1, Outcome: Started}, false},
		{"failed", Attempt{PID: os.Getpid(), PIDStart: self.PIDStart, Outcome: Failed}, false},
		{"interrupted", Attempt{PID: os.Getpid(), PIDStart: self.PIDStart, Outcome: Interrupted}, false},
		{"no PID", Attempt{Outcome: Started}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Alive(); got != tt.want {
				t.Errorf("Alive() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProcessStart(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child, err := ProcessStart(cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	self, err := ProcessStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if child < self {
		t.Errorf("child started at tick %d, before this process (%d)", child, self)
	}
	if _, err := ProcessStart(cmd.Process.Pid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ProcessStart of a reaped process: %v, want fs.ErrNotExist", err)
	}
}

// TestAttemptCorrupt: an attempt file that cannot be read is an error
// naming it, not a silently pending step.
func TestAttemptCorrupt(t *testing.T) {
	tests := map[string]string{
		"truncated":       `{"step": "go:make", "build": "ab`,
		"other step":      `{"step": "go:install", "build": "x", "outcome": "failed"}`,
		"no build":        `{"step": "go:make", "outcome": "failed"}`,
		"unknown outcome": `{"step": "go:make", "build": "x", "outcome": "exploded"}`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			s := Open(t.TempDir())
			p := s.AttemptPath("go:make")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			a, err := s.LoadAttempt("go:make")
			var ce *CorruptError
			if a != nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), "attempt file "+p) {
				t.Errorf("LoadAttempt = %v, %v; want a *CorruptError naming the attempt file", a, err)
			}
		})
	}
}
