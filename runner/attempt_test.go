package runner_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/state"
)

// status returns one step's status in the fixture's work dir.
func (f *fixture) status(id string) *runner.Status {
	f.t.Helper()
	sts, err := runner.Statuses(f.plan(), state.Open(f.work))
	if err != nil {
		f.t.Fatal(err)
	}
	for _, st := range sts {
		if st.Step.ID == id {
			return st
		}
	}
	f.t.Fatalf("no step %s", id)
	return nil
}

// TestFailedStepState: a step that failed is "failed" with its exit status
// and log, not "pending — never completed"; what waits for it stays
// pending; a successful rerun leaves no attempt behind.
func TestFailedStepState(t *testing.T) {
	f := newFixture(t, strings.ReplaceAll(diamond, "FAILC", "exit 7"))
	if _, _, err := f.run(runner.Options{}); err == nil {
		t.Fatal("the run with a failing step succeeded")
	}
	st := f.status("c:x")
	log := runner.LogPath(f.work, "c:x")
	if st.State != runner.Failed || st.Attempt == nil || st.Attempt.Exit != 7 {
		t.Fatalf("c:x: %s, attempt %+v; want failed with exit 7", st.State, st.Attempt)
	}
	if want := "exit 7 at " + time.Now().Format("15:04") + ", log " + log; st.Detail() != want || len(st.Reasons) != 1 || st.Reasons[0] != want {
		t.Errorf("c:x detail %q, reasons %q; want %q", st.Detail(), st.Reasons, want)
	}
	if d := f.status("d:x"); d.State != runner.Pending || d.Detail() != "" || d.Reasons[0] != "waiting for c:x" {
		t.Errorf("d:x: %s %q, want pending, waiting for c:x", d.State, d.Reasons)
	}
	f.text = strings.ReplaceAll(f.text, "exit 7", "true")
	if _, _, err := f.run(runner.Options{}); err != nil {
		t.Fatal(err)
	}
	if st := f.status("c:x"); st.State != runner.Done || st.Attempt != nil {
		t.Errorf("after a good rerun c:x is %s, attempt %+v", st.State, st.Attempt)
	}
	if _, err := os.Stat(state.Open(f.work).AttemptPath("c:x")); !os.IsNotExist(err) {
		t.Errorf("attempt file after success: %v", err)
	}
}

// TestInterruptNamesStep: cancelling a run with a signal as the cause stops
// the running step, returns an *InterruptedError naming it and the signal,
// and leaves the step interrupted.
func TestInterruptNamesStep(t *testing.T) {
	f := newFixture(t, "name: one\ncomponents:\n  - name: a\n    steps:\n      - {name: s, run: 'sleep 30'}\n")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	store := state.Open(f.work)
	go func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if a, _ := store.LoadAttempt("a:s"); a != nil {
				time.Sleep(100 * time.Millisecond) // let the shell start
				break
			}
		}
		cancel(&runner.SignalError{Signal: syscall.SIGTERM})
	}()
	start := time.Now()
	_, err := runner.Run(ctx, f.plan(), runner.Options{Printer: progress.NewPlain(&strings.Builder{}), Sources: source.Set{}})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the interrupted run took %s", d)
	}
	var ie *runner.InterruptedError
	var se *runner.SignalError
	if !errors.As(err, &ie) || !errors.As(err, &se) || se.Signal != syscall.SIGTERM || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %#v, want an *InterruptedError caused by SIGTERM", err)
	}
	if want := "interrupted (SIGTERM) while a:s was running; the next run restarts it"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	st := f.status("a:s")
	if st.State != runner.Interrupted || !strings.HasPrefix(st.Detail(), "at ") || !strings.Contains(st.Detail(), "(SIGTERM), log ") {
		t.Errorf("a:s: %s %q", st.State, st.Detail())
	}
}

// TestAttemptOfAnotherRun: an attempt left by a live process is running,
// by a dead one interrupted (the run was killed).
func TestAttemptOfAnotherRun(t *testing.T) {
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	f := newFixture(t, "name: one\ncomponents:\n  - name: a\n    steps:\n      - {name: s, run: 'true'}\n")
	store := state.Open(f.work)
	a := state.NewAttempt("a:s", state.NewBuildID(), runner.LogPath(f.work, "a:s"))
	a.PID = sleeper.Process.Pid
	a.PIDStart, _ = state.ProcessStart(a.PID)
	if err := store.SaveAttempt(a); err != nil {
		t.Fatal(err)
	}
	st := f.status("a:s")
	if want := "pid " + strconv.Itoa(a.PID) + " since "; st.State != runner.Running || !strings.HasPrefix(st.Detail(), want) {
		t.Errorf("with the run alive: %s %q, want running %q…", st.State, st.Detail(), want)
	}
	sleeper.Process.Kill()
	sleeper.Wait()
	st = f.status("a:s")
	if want := "the run (pid " + strconv.Itoa(a.PID) + ") was killed"; st.State != runner.Interrupted || !strings.Contains(st.Detail(), want) {
		t.Errorf("with the run dead: %s %q, want interrupted, %q", st.State, st.Detail(), want)
	}
}
