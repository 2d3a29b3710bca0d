package execstep

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		shell    string
		script   string
		wantOut  string
		wantExit int
	}{
		{"success", "sh", "echo hello", "hello\n", 0},
		{"exit status", "sh", "echo before; exit 3", "before\n", 3},
		{"set -e stops at the first failure", "sh", "false; echo not reached", "", 1},
		{"stderr goes to the log too", "sh", "echo err >&2", "err\n", 0},
		{"only the given environment", "sh", `echo "${HOME:-unset} ${FOO:-unset} $ONLY"`, "unset unset yes\n", 0},
		{"bash pipefail", "bash", "false | true; echo not reached", "", 1},
		{"sh without pipefail", "sh", "false | true; echo reached", "reached\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), Command{Script: tt.script, Shell: tt.shell, Dir: t.TempDir(),
				Env: []string{"PATH=/usr/bin:/bin", "ONLY=yes"}, Output: &out})
			var ee *ExitError
			switch {
			case tt.wantExit == 0 && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantExit != 0 && (!errors.As(err, &ee) || ee.Code != tt.wantExit):
				t.Fatalf("err = %v, want exit %d", err, tt.wantExit)
			}
			if out.String() != tt.wantOut {
				t.Errorf("output %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}

// TestCancelKillsTheGroup: cancelling a step must stop everything it
// started, including a background grandchild.
func TestCancelKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var pgid int
	go func() {
		done <- Run(ctx, Command{Script: "sleep 60 & echo $! > " + pidFile + "; wait", Shell: "sh", Dir: dir,
			Env: []string{"PATH=/usr/bin:/bin"}, Output: &bytes.Buffer{}, Started: func(pid int) { pgid = pid }})
	}()
	var child int
	for i := 0; child == 0 && i < 500; i++ {
		data, _ := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("the script never started its child")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	for i := 0; i < 200; i++ {
		if syscall.Kill(child, 0) != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if syscall.Kill(child, 0) == nil {
		t.Errorf("the grandchild %d (group %d) survived the cancellation", child, pgid)
		syscall.Kill(child, syscall.SIGKILL)
	}
}

func TestOnLine(t *testing.T) {
	var lines []string
	err := Run(context.Background(), Command{Script: "printf 'a\\nb\\r\\n\\n  \\nc'", Shell: "sh", Dir: t.TempDir(),
		Env: []string{"PATH=/usr/bin:/bin"}, Output: &bytes.Buffer{}, OnLine: func(l string) { lines = append(lines, l) }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, "|") != "a|b" {
		t.Errorf("lines %q: want complete, non-blank lines without CR", lines)
	}
}

// TestCPU: the CPU time reported is the script's and its descendants',
// not the wall time: a loop in a grandchild counts, a sleep does not.
func TestCPU(t *testing.T) {
	for _, tc := range []struct {
		name     string
		script   string
		min, max time.Duration
	}{
		{"busy grandchild", `sh -c 'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done'`, 20 * time.Millisecond, time.Hour},
		{"sleep", "sleep 0.5", 0, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cpu := time.Duration(-1)
			err := Run(context.Background(), Command{Script: tc.script, Shell: "sh", Dir: t.TempDir(),
				Env: []string{"PATH=/usr/bin:/bin"}, Output: &bytes.Buffer{}, CPU: func(d time.Duration) { cpu = d }})
			if err != nil {
				t.Fatal(err)
			}
			if cpu < tc.min || cpu > tc.max {
				t.Errorf("CPU %v, want between %v and %v", cpu, tc.min, tc.max)
			}
		})
	}
}

// TestRunFallsBackToUnshare: a start the kernel refuses with EINVAL
// because of its namespace clone flags is tried once more with the
// namespaces as unshare flags, as under qemu-user (which refuses every
// namespace flag); here the kernel refuses CLONE_NEWNS with CLONE_FS,
// which it allows for unshare. The script runs, in a mount namespace of
// its own.
func TestRunFallsBackToUnshare(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a new mount namespace without a user namespace needs root")
	}
	ours, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = Run(context.Background(), Command{Script: "readlink /proc/self/ns/mnt", Shell: "sh", Dir: t.TempDir(),
		Env: []string{"PATH=/usr/bin:/bin"}, Output: &out, Clone: syscall.CLONE_NEWNS | syscall.CLONE_FS})
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out.String())
	}
	if got := strings.TrimSpace(out.String()); !strings.HasPrefix(got, "mnt:[") || got == ours {
		t.Errorf("the script's mount namespace is %q; want a new one (ours is %s)", got, ours)
	}
}
