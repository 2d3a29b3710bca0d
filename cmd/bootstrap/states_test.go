package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/runner"
)

// statesRecipe writes states.yaml into dir: a:first echoes; a:work writes
// its shell's PID to <dir>/started, sleeps while <dir>/hold exists, then
// runs last. The tests run it with --no-sandbox: they watch the step's
// host PID and files outside the work dir, which a sandbox hides.
func statesRecipe(t *testing.T, dir, last string) {
	t.Helper()
	q := "'" + dir + "'"
	text := fmt.Sprintf(`name: states
components:
  - name: a
    steps:
      - name: first
        run: echo first
      - name: work
        run: |
          echo $$ > %s/started
          if [ -e %s/hold ]; then exec sleep 60; fi
          %s
`, q, q, last)
	if err := os.WriteFile(filepath.Join(dir, "states.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// planDoc is what the tests expect of `plan --json`, declared here rather
// than borrowed from cmd_plan.go so that a change of shape fails them.
type planDoc struct {
	WorkDir string `json:"work_dir"`
	Steps   []struct {
		ID, Component, Kind, State, Signature string
		Reasons                               []string
		LastSeconds                           *float64 `json:"last_seconds"`
		CPUSeconds                            *float64 `json:"cpu_seconds"`
		Attempt                               *struct {
			Outcome, Log, Error, Signal, Detail string
			PID, Exit                           int
			Started                             time.Time
			Ended                               *time.Time
		}
	}
}

// planJSONOf runs `plan --json` and decodes it strictly.
func planJSONOf(t *testing.T, dir string) planDoc {
	t.Helper()
	r := bs(t, dir, "plan", "--json", "--no-sandbox", "states.yaml")
	if r.code != 0 {
		t.Fatalf("plan --json: exit %d\n%s", r.code, r.stderr)
	}
	var doc planDoc
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("plan --json does not decode: %v\n%s", err, r.stdout)
	}
	return doc
}

// TestPlanFailedStep: a failing step is "failed" with its exit status and
// log in plan, plan --json and explain, and what follows it stays pending.
func TestPlanFailedStep(t *testing.T) {
	dir := t.TempDir()
	statesRecipe(t, dir, "echo about to fail; exit 3")
	if r := bs(t, dir, "run", "--no-sandbox", "states.yaml"); r.code != 1 {
		t.Fatalf("run: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := bs(t, dir, "plan", "--no-sandbox", "states.yaml")
	m := regexp.MustCompile(`(?m)^a:work\s+failed\s+-\s+-\s+exit 3 at \d\d:\d\d, log (\S+)$`).FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "2 steps: 1 done, 0 stale, 0 pending, 1 failed (work dir ") {
		t.Fatalf("plan after a failure:\n%s", r.stdout)
	}
	log := m[1]
	if !filepath.IsAbs(log) {
		log = filepath.Join(dir, log)
	}
	if data, err := os.ReadFile(log); err != nil || !strings.Contains(string(data), "about to fail") {
		t.Errorf("the log plan names, %s: %v %q", m[1], err, data)
	}

	doc := planJSONOf(t, dir)
	if len(doc.Steps) != 2 || doc.WorkDir == "" {
		t.Fatalf("plan --json: %+v", doc)
	}
	first, work := doc.Steps[0], doc.Steps[1]
	if first.ID != "a:first" || first.State != "done" || first.Kind != "run" || first.Component != "a" ||
		first.LastSeconds == nil || len(first.Reasons) != 0 || first.Attempt != nil {
		t.Errorf("a:first in plan --json: %+v", first)
	}
	a := work.Attempt
	if work.ID != "a:work" || work.State != "failed" || work.LastSeconds != nil || a == nil {
		t.Fatalf("a:work in plan --json: %+v", work)
	}
	if a.Outcome != "failed" || a.Exit != 3 || a.Log != m[1] || a.Ended == nil || a.PID <= 0 ||
		len(work.Reasons) != 1 || work.Reasons[0] != a.Detail || !strings.HasPrefix(a.Detail, "exit 3 at ") {
		t.Errorf("a:work's attempt in plan --json: %+v, reasons %q", *a, work.Reasons)
	}

	if r := bs(t, dir, "explain", "--no-sandbox", "states.yaml", "a:work"); !strings.Contains(r.stdout, "a:work: failed") || !strings.Contains(r.stdout, "exit 3 at ") {
		t.Errorf("explain of the failed step:\n%s%s", r.stdout, r.stderr)
	}
}

// background is a run started in the background, its stderr captured.
type background struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	step   int // the PID of a:work's shell, once it started
}

// startHeld starts a run whose a:work sleeps, and waits until it does.
func startHeld(t *testing.T, dir string) *background {
	t.Helper()
	statesRecipe(t, dir, "echo released")
	if err := os.WriteFile(filepath.Join(dir, "hold"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "started"))
	b := &background{cmd: exec.Command(binary, "run", "--no-sandbox", "states.yaml")}
	b.cmd.Dir = dir
	b.cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"))
	b.cmd.Stderr = &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		b.cmd.Wait()
		killSleeper(b.step)
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, err := os.ReadFile(filepath.Join(dir, "started"))
		if err == nil && strings.HasSuffix(string(data), "\n") {
			b.step, _ = strconv.Atoi(strings.TrimSpace(string(data)))
			// The shell execs sleep: wait for it, so the step is past
			// its start whatever the machine's load.
			for ; time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", b.step)); bytes.HasPrefix(cmdline, []byte("sleep\x00")) {
					return b
				}
			}
		}
	}
	t.Fatalf("a:work did not start within 20s; stderr:\n%s", b.stderr.String())
	return nil
}

// killSleeper stops a step's sleep that outlived the test's run, if that
// PID is still a sleep.
func killSleeper(pid int) {
	if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); pid > 0 && bytes.HasPrefix(cmdline, []byte("sleep\x00")) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// wait waits for the run to exit and returns its exit status.
func (b *background) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return b.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		t.Fatalf("the run did not exit within 20s; stderr:\n%s", b.stderr.String())
	}
	return -1
}

// TestInterruptExitCodes: while a run sleeps in a step, plan from another
// process shows it running with the run's PID; SIGINT and SIGTERM stop the
// run with 130 and 143, naming the step; plan then shows it interrupted,
// record says interrupted, and the next run restarts only that step.
func TestInterruptExitCodes(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGINT, "SIGINT", 130},
		{syscall.SIGTERM, "SIGTERM", 143},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			b := startHeld(t, dir)
			pid := b.cmd.Process.Pid

			r := bs(t, dir, "plan", "--no-sandbox", "states.yaml")
			if !regexp.MustCompile(`(?m)^a:work\s+running\s+-\s+-\s+pid `+strconv.Itoa(pid)+` since \d\d:\d\d, log \S+$`).MatchString(r.stdout) ||
				!strings.Contains(r.stdout, ", 1 running (work dir ") {
				t.Errorf("plan while a:work runs in pid %d:\n%s%s", pid, r.stdout, r.stderr)
			}
			doc := planJSONOf(t, dir)
			if w := doc.Steps[1]; w.State != "running" || w.Attempt == nil || w.Attempt.PID != pid || w.Attempt.Outcome != "started" || w.Attempt.Ended != nil {
				t.Errorf("plan --json while a:work runs in pid %d: %+v %+v", pid, w, w.Attempt)
			}

			start := time.Now()
			if err := b.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			code := b.wait(t)
			t.Logf("%s: the run exited %d after %s", tt.name, code, time.Since(start).Round(time.Millisecond))
			want := "bootstrap: interrupted (" + tt.name + ") while a:work was running; the next run restarts it\n"
			if code != tt.code || !strings.HasSuffix(b.stderr.String(), want) {
				t.Errorf("exit %d, want %d; stderr:\n%s\nwant it to end with %q", code, tt.code, b.stderr.String(), want)
			}
			if syscall.Kill(b.step, 0) == nil {
				if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", b.step)); bytes.HasPrefix(cmdline, []byte("sleep\x00")) {
					t.Errorf("the step's process %d outlived the interrupted run", b.step)
				}
			}

			r = bs(t, dir, "plan", "--no-sandbox", "states.yaml")
			if !regexp.MustCompile(`(?m)^a:work\s+interrupted\s+-\s+-\s+at \d\d:\d\d \(` + tt.name + `\), log \S+$`).MatchString(r.stdout) {
				t.Errorf("plan after %s:\n%s", tt.name, r.stdout)
			}
			r = bs(t, dir, "record", "states.yaml")
			if !regexp.MustCompile(`(?m)^\s+a:work\s+interrupted\s.*by ` + tt.name).MatchString(r.stdout) {
				t.Errorf("record after %s:\n%s%s", tt.name, r.stdout, r.stderr)
			}

			os.Remove(filepath.Join(dir, "hold"))
			r = bs(t, dir, "run", "--no-sandbox", "states.yaml")
			if got := started(r.stdout); r.code != 0 || !equal(got, []string{"a:work"}) {
				t.Errorf("the run after the interrupt: exit %d, started %v, want [a:work]\n%s%s", r.code, got, r.stdout, r.stderr)
			}
		})
	}
}

// TestPlanAfterKill: a run killed with SIGKILL cannot mark anything, yet
// plan calls the step it was at interrupted (its run is gone), not pending.
func TestPlanAfterKill(t *testing.T) {
	dir := t.TempDir()
	b := startHeld(t, dir)
	pid := b.cmd.Process.Pid
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t); code != -1 {
		t.Errorf("SIGKILLed run: exit status %d", code)
	}
	r := bs(t, dir, "plan", "--no-sandbox", "states.yaml")
	want := `(?m)^a:work\s+interrupted\s+-\s+-\s+started \d\d:\d\d, the run \(pid ` + strconv.Itoa(pid) + `\) was killed, log \S+$`
	if !regexp.MustCompile(want).MatchString(r.stdout) || !strings.Contains(r.stdout, "1 done, 0 stale, 0 pending, 1 interrupted") {
		t.Errorf("plan after SIGKILL:\n%s\nwant a line matching %s", r.stdout, want)
	}
	if doc := planJSONOf(t, dir); doc.Steps[1].State != "interrupted" || doc.Steps[1].Attempt.Outcome != "started" {
		t.Errorf("plan --json after SIGKILL: %+v", doc.Steps[1])
	}
}

// TestExitCodeOfSignals: a run's *InterruptedError and any other command's
// error after a signal (withSignal) exit 128+signal; a cancellation without
// a signal stays a failure.
func TestExitCodeOfSignals(t *testing.T) {
	byCause := func(cause error) context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		return ctx
	}
	fetchErr := fmt.Errorf("fetch go: %w", context.Canceled)
	tests := []struct {
		name string
		err  error
		want int
		msg  string
	}{
		{"run, SIGINT", &runner.InterruptedError{Cause: &runner.SignalError{Signal: syscall.SIGINT}, Steps: []string{"go:make"}}, 130,
			"interrupted (SIGINT) while go:make was running; the next run restarts it"},
		{"run, SIGTERM, two steps", &runner.InterruptedError{Cause: &runner.SignalError{Signal: syscall.SIGTERM}, Steps: []string{"a:x", "b:y"}}, 143,
			"interrupted (SIGTERM) while a:x, b:y were running; the next run restarts them"},
		{"run, cancelled without a signal", &runner.InterruptedError{Cause: context.Canceled}, 1,
			"interrupted (cancelled) between steps; the next run continues from there"},
		{"fetch, SIGTERM", runner.WithSignal(byCause(&runner.SignalError{Signal: syscall.SIGTERM}), fetchErr), 143,
			"interrupted (SIGTERM): fetch go: context canceled"},
		{"fetch, no signal", runner.WithSignal(byCause(context.Canceled), fetchErr), 1, "fetch go: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want || tt.err.Error() != tt.msg {
				t.Errorf("exitCode = %d, message %q; want %d, %q", got, tt.err, tt.want, tt.msg)
			}
			if !errors.Is(tt.err, context.Canceled) {
				t.Errorf("%v is not context.Canceled for errors.Is", tt.err)
			}
		})
	}
}
