package progress

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPlain(t *testing.T) {
	var out bytes.Buffer
	p := NewPlain(&out)
	p.Now = func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }
	p.Start(5, 5, 2)
	p.StepStart("go:make", 7*time.Minute)
	p.StepLine("go:make", "not shown")
	p.StepDone("go:make", 6*time.Minute+59*time.Second)
	p.StepStart("docker:build", 0)
	p.StepFailed("docker:build", errors.New("exit status 2"))
	want := `10:00:00 running 2 of 5 steps
10:00:00 start go:make (took 7m0s last time)
10:00:00 done  go:make in 6m59s
10:00:00 start docker:build
10:00:00 FAIL  docker:build: exit status 2
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestTerminal draws into a buffer and checks that finished steps scroll
// above the bar and the running step shows its ETA and last log line.
func TestTerminal(t *testing.T) {
	var out bytes.Buffer
	tr := NewTerminal(&out, 120)
	tr.Start(3, 3, 2)
	tr.StepStart("go:make", 7*time.Minute)
	tr.StepLine("go:make", "Building packages and commands for linux/amd64.")
	time.Sleep(300 * time.Millisecond) // one tick of the display
	tr.mu.Lock()
	tr.describe()
	tr.bar.RenderBlank()
	tr.mu.Unlock()
	tr.StepDone("go:make", 2*time.Second)
	tr.Close()
	s := out.String()
	for _, want := range []string{"go:make 0s/7m0s | Building packages", "done  go:make in 2s", "1/2"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
}

// TestNothingToRun: both printers count what the selection covers when
// nothing runs, not the whole plan.
func TestNothingToRun(t *testing.T) {
	tests := []struct {
		total, selected int
		want            string
	}{
		{17, 17, "all 17 steps are done; nothing to run"},
		{17, 7, "the 7 selected steps are done (of 17 in the plan); nothing to run"},
	}
	for _, tt := range tests {
		var plain, term bytes.Buffer
		p := NewPlain(&plain)
		p.Now = func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }
		p.Start(tt.total, tt.selected, 0)
		if got := plain.String(); got != "10:00:00 "+tt.want+"\n" {
			t.Errorf("plain, %d of %d: %q", tt.selected, tt.total, got)
		}
		tr := NewTerminal(&term, 120)
		tr.Start(tt.total, tt.selected, 0)
		tr.Close()
		if got := term.String(); got != tt.want+"\n" {
			t.Errorf("terminal, %d of %d: %q", tt.selected, tt.total, got)
		}
	}
}
