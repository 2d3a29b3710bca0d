package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Outcome is how an attempt at a step ended, as written in its file.
type Outcome string

// The outcomes an attempt file records. A step that succeeded has no
// attempt file: its checkpoint says everything.
const (
	// Started: the run began the step and has not written an end; the run
	// is either still at it or was killed (see Attempt.Alive).
	Started Outcome = "started"
	// Failed: the step's command (or bootstrap's own work) failed.
	Failed Outcome = "failed"
	// Interrupted: the run was cancelled (a signal) while the step ran.
	Interrupted Outcome = "interrupted"
)

// Attempt records one try at a step, from its start until it succeeds
// (then the file is removed) or fails or is interrupted (then it stays, so
// that plan, explain and record can say what happened). It lives beside the
// checkpoint as <work>/state/<comp>/<step>.attempt: not *.json, so that
// nothing that lists checkpoints takes it for one.
type Attempt struct {
	// Step is the step's ID, "component:step".
	Step string `json:"step"`
	// Build is the build ID the step ran with (its checkpoint's Build had
	// it succeeded).
	Build string `json:"build"`
	// PID is the process ID of the bootstrap run, and PIDStart that
	// process's start time (clock ticks since boot, /proc/<pid>/stat field
	// 22): together they tell the run from a later process that reuses
	// the PID.
	PID      int    `json:"pid"`
	PIDStart uint64 `json:"pid_start,omitempty"`
	// Started is when the step began; Ended when it failed or was
	// interrupted (zero while it runs and when the run was killed).
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Log is the path of the step's log.
	Log string `json:"log"`
	// Outcome is what the run last wrote about the step.
	Outcome Outcome `json:"outcome"`
	// Exit is the exit status of a failed step's command, 0 when it did
	// not get that far (a download failed, a patch did not apply).
	Exit int `json:"exit,omitempty"`
	// Error is the short error of a failed step.
	Error string `json:"error,omitempty"`
	// Signal names the signal that interrupted the run (SIGINT, SIGTERM),
	// empty when it was cancelled otherwise.
	Signal string `json:"signal,omitempty"`
	// Emulator names the emulator a run step ran under, as in "emulated
	// by qemu-ppc64le 10.0.2 (Debian …)"; empty when the kernel ran it.
	// A failure under emulation may be the emulator's (qemu has computed
	// wrong results): plan and run say so.
	Emulator string `json:"emulator,omitempty"`
}

// NewAttempt describes a step this process starts now.
func NewAttempt(id, build, log string) *Attempt {
	start, _ := ProcessStart(os.Getpid())
	return &Attempt{Step: id, Build: build, PID: os.Getpid(), PIDStart: start,
		Started: time.Now().UTC(), Log: log, Outcome: Started}
}

// Alive reports whether the run that wrote a started attempt is still
// running: its PID exists and, where /proc says, started when it did. A
// run killed by SIGKILL or a power loss leaves an attempt that is not
// alive, which is an interrupted step.
func (a *Attempt) Alive() bool {
	if a.Outcome != Started || a.PID <= 0 {
		return false
	}
	if err := syscall.Kill(a.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	start, err := ProcessStart(a.PID)
	if err != nil {
		// Gone between the two checks, or no /proc: trust kill(2).
		return !errors.Is(err, fs.ErrNotExist)
	}
	return a.PIDStart == 0 || start == a.PIDStart
}

// ProcessStart returns when a process started, in clock ticks since boot,
// from /proc/<pid>/stat. The error wraps fs.ErrNotExist when there is no
// such process.
func ProcessStart(pid int) (uint64, error) {
	p := fmt.Sprintf("/proc/%d/stat", pid)
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	// The command is in parentheses and may hold spaces; field 22
	// (starttime) is the 20th after the closing one.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command field", p)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("%s: %d fields after the command, want 20", p, len(f))
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: starttime: %w", p, err)
	}
	return n, nil
}

// AttemptPath is the attempt file of a step.
func (s *Store) AttemptPath(id string) string {
	comp, step, _ := strings.Cut(id, ":")
	return filepath.Join(s.dir, comp, step+".attempt")
}

// SaveAttempt writes an attempt file atomically and durably: a step is
// marked started before its command runs, so that a kill at any instant
// afterwards leaves a trace.
func (s *Store) SaveAttempt(a *Attempt) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return fmt.Errorf("attempt of %s: %w", a.Step, err)
	}
	if err := WriteFileAtomic(s.AttemptPath(a.Step), append(data, '\n')); err != nil {
		return fmt.Errorf("write attempt of %s: %w", a.Step, err)
	}
	return nil
}

// LoadAttempt returns a step's last attempt, nil when there is none. A file
// that cannot be parsed is a *CorruptError, like a checkpoint's.
func (s *Store) LoadAttempt(id string) (*Attempt, error) {
	p := s.AttemptPath(id)
	var a Attempt
	if found, err := readJSON(p, &a, "attempt file"); !found || err != nil {
		return nil, err
	}
	if a.Step != id || a.Build == "" {
		return nil, &CorruptError{Path: p, Err: errors.New("it does not describe this step"), What: "attempt file"}
	}
	switch a.Outcome {
	case Started, Failed, Interrupted:
	default:
		return nil, &CorruptError{Path: p, Err: fmt.Errorf("unknown outcome %q", a.Outcome), What: "attempt file"}
	}
	return &a, nil
}

// RemoveAttempt deletes a step's attempt file; a missing one is fine. The
// directory is not synced: a leftover attempt beside a newer checkpoint of
// the same build is ignored by readers.
func (s *Store) RemoveAttempt(id string) error {
	if err := os.Remove(s.AttemptPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove attempt of %s: %w", id, err)
	}
	return nil
}
