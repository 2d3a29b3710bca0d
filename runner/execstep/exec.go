// Package execstep runs a step's script: /bin/sh -e -c (or bash with
// pipefail) in its directory, with exactly the environment the plan gives it,
// all output to the step's log, in a process group of its own so that a
// cancelled run leaves no stray compiler behind.
package execstep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/porterkit/bootstrap/runner/sandbox"
)

// Command is one script to run.
type Command struct {
	// Argv, when set, is run instead of the shell with Script: an executor
	// that must enter another place first wraps the shell in it.
	Argv   []string
	Script string
	// Shell is "sh" or "bash".
	Shell string
	Dir   string
	// Env is the complete environment, "NAME=value".
	Env []string
	// Output receives stdout and stderr, interleaved as written.
	Output io.Writer
	// OnLine, when set, is called with each complete output line (for the
	// progress display). It must be quick.
	OnLine func(line string)
	// Started, when set, is called with the process (group) ID once the
	// shell runs; Ended when it and its group are gone.
	Started func(pid int)
	Ended   func()
	// CPU, when set, is called once the script has exited with the CPU
	// time (user and system) it used, its descendants that were waited
	// for included. Unlike the wall time it does not depend on what else
	// the machine is doing, which is what makes steps comparable across
	// runs, machines and emulators.
	CPU func(time.Duration)
	// Unshare lists namespaces (syscall.CLONE_NEW*) the process gets new
	// copies of; with CLONE_NEWNS its mounts are private to it.
	Unshare uintptr
	// Clone lists namespaces the process is created in; with
	// CLONE_NEWPID it is the namespace's init, and when it dies the kernel
	// kills every process left in it.
	Clone uintptr
	// Attr, when set, completes the process's attributes (a sandbox's
	// namespaces and id mappings) before it starts.
	Attr func(*syscall.SysProcAttr)
	// Sandbox is the step's view for an executor that confines it; nil
	// for commands that are not run steps.
	Sandbox *sandbox.Step
}

// Argv is the shell command line that runs script: /bin/sh -e -c, or bash
// with pipefail.
func Argv(script, shell string) []string {
	if shell == "bash" {
		return []string{"/bin/bash", "-e", "-o", "pipefail", "-c", script}
	}
	return []string{"/bin/sh", "-e", "-c", script}
}

// ExitError is a script that ran and exited non-zero (or was killed).
type ExitError struct {
	Code   int
	Signal string
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "killed by signal " + e.Signal
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Run runs the command and waits for it. It returns *ExitError when the
// script failed, ctx.Err() when it was cancelled (after killing the whole
// process group), and other errors when it could not start.
func Run(ctx context.Context, c Command) error {
	argv := c.Argv
	if len(argv) == 0 {
		argv = Argv(c.Script, c.Shell)
	}
	out := c.Output
	if c.OnLine != nil {
		out = io.MultiWriter(out, &lineSplitter{fn: c.OnLine})
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Unshareflags: c.Unshare, Cloneflags: c.Clone}
	if c.Attr != nil {
		c.Attr(attr)
	}
	cmd := command(argv, c, attr, out)
	err := cmd.Start()
	if again, ok := sandbox.Fallback(attr, err); ok {
		// Under qemu-user, which refuses namespaces as clone flags: the
		// same namespaces by unshare(2) (see runner/sandbox/unshare.go).
		cmd = command(argv, c, again, out)
		err = cmd.Start()
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	if c.Started != nil {
		c.Started(cmd.Process.Pid)
	}
	if c.Ended != nil {
		defer c.Ended()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		killGroup(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			killGroup(cmd.Process.Pid, syscall.SIGKILL)
			err = <-done
		}
		return ctx.Err()
	}
	// The script is done; anything it left running in its group goes too.
	killGroup(cmd.Process.Pid, syscall.SIGKILL)
	if c.CPU != nil && cmd.ProcessState != nil {
		c.CPU(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal().String()}
		}
		return &ExitError{Code: ee.ExitCode()}
	}
	return err
}

// command is the process that runs argv for c.
func command(argv []string, c Command, attr *syscall.SysProcAttr, out io.Writer) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.SysProcAttr = attr
	// One writer for both streams: exec serialises writes to it.
	cmd.Stdout, cmd.Stderr = out, out
	return cmd
}

func killGroup(pid int, sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }

// lineSplitter calls fn with each complete line written to it.
type lineSplitter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (l *lineSplitter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimRight(l.buf[:i], "\r"); len(bytes.TrimSpace(line)) > 0 {
			l.fn(string(line))
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64*1024 { // a progress bar without newlines
		l.buf = l.buf[len(l.buf)-1024:]
	}
	return len(p), nil
}
