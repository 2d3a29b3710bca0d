package progress

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a real pseudo-terminal and returns its terminal side, the
// side a run's stdout is on in a porter's shell.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}

// logFile is a regular file, as when a run's output is redirected.
func logFile(t *testing.T) *os.File {
	f, err := os.Create(t.TempDir() + "/run.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestChoose checks which printer each combination of flags, environment
// and output gets, on a real terminal and off one.
func TestChoose(t *testing.T) {
	tty := openPTY(t)
	var buf bytes.Buffer
	tests := []struct {
		name string
		out  *os.File // nil: a buffer
		o    Options
		env  map[string]string
		want string
	}{
		{"terminal", tty, Options{}, map[string]string{"TERM": "xterm-256color"}, "*progress.Terminal"},
		{"terminal without TERM", tty, Options{}, nil, "*progress.Terminal"},
		{"NO_COLOR", tty, Options{}, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, "*progress.Plain"},
		{"NO_COLOR empty is unset", tty, Options{}, map[string]string{"TERM": "xterm", "NO_COLOR": ""}, "*progress.Terminal"},
		{"TERM=dumb", tty, Options{}, map[string]string{"TERM": "dumb"}, "*progress.Plain"},
		{"--plain", tty, Options{Plain: true}, nil, "*progress.Plain"},
		{"--verbose", tty, Options{Verbose: true}, nil, "*progress.Plain"},
		{"--quiet", tty, Options{Quiet: true}, nil, "*progress.Quiet"},
		{"--quiet off a terminal", nil, Options{Quiet: true}, nil, "*progress.Quiet"},
		{"not a terminal", nil, Options{}, map[string]string{"TERM": "xterm"}, "*progress.Plain"},
		{"a log file", logFile(t), Options{}, map[string]string{"TERM": "xterm"}, "*progress.Plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			var p Printer
			if tt.out == nil {
				p = Choose(&buf, tt.o, getenv)
			} else {
				p = Choose(tt.out, tt.o, getenv)
			}
			if got := fmt.Sprintf("%T", p); got != tt.want {
				t.Errorf("Choose = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestQuiet: only failures and "nothing to run" get through.
func TestQuiet(t *testing.T) {
	var out bytes.Buffer
	q := NewQuiet(&out)
	q.SetClock(func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) })
	q.Start(5, 5, 2)
	q.StepStart("go:make", time.Minute)
	q.StepLine("go:make", "building")
	q.StepDone("go:make", time.Minute)
	q.Printf("a message")
	q.StepFailed("docker:build", errors.New("exit status 2"))
	q.Start(5, 5, 0)
	q.Close()
	want := "10:00:00 FAIL  docker:build: exit status 2\n10:00:00 all 5 steps are done; nothing to run\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
