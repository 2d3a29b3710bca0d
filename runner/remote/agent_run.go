package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Start starts `self run RECIPE ...` for key detached from the caller's
// session: the supervisor (`self board supervise`) runs in a session of
// its own with stdin from /dev/null and its output in the run's log, so
// that the SSH session ending (a dropped link) does not touch it. When a
// run of key is already going on, Start starts nothing and returns that
// run's ID with attached true. recipe is relative to the recipe dir;
// the mirror dirs of gitCommits (GitPut) are given to the run as
// --mirror; runArgs are the flags after it.
func (a Agent) Start(self, key, recipe string, gitCommits, runArgs []string) (run string, attached bool, err error) {
	if err := checkKey(key); err != nil {
		return "", false, err
	}
	unlock, err := a.lock(key)
	if err != nil {
		return "", false, fmt.Errorf("start: %w", err)
	}
	defer unlock()
	st, err := a.Status(key)
	if err != nil {
		return "", false, err
	}
	if st.Alive {
		return st.Run, true, nil
	}
	args := []string{"run", filepath.Join(a.RecipeDir(key), recipe), "--workdir", a.WorkDir(key), "--cache", a.CacheDir(), "--plain"}
	for _, c := range gitCommits {
		if !commitRE.MatchString(c) {
			return "", false, fmt.Errorf("start: bad commit %q", c)
		}
		args = append(args, "--mirror", a.GitMirror(c))
	}
	args = append(args, runArgs...)
	run = newRunID()
	os.Remove(filepath.Join(a.agentDir(key), "exit.json"))
	log, err := os.OpenFile(a.LogPath(key), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return "", false, fmt.Errorf("start: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(self, append([]string{"board", "supervise", "--dir", a.Dir, "--key", key, "--run", run, "--"}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = a.Dir
	cmd.Env = os.Environ()
	if os.Getenv("BOOTSTRAP_KEY_DIR") == "" {
		// The board's own signing key, next to what it signs.
		cmd.Env = append(cmd.Env, "BOOTSTRAP_KEY_DIR="+filepath.Join(a.Dir, "keys"))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return "", false, fmt.Errorf("start the run: %w", err)
	}
	ps, err := readStat(cmd.Process.Pid)
	if err != nil {
		return "", false, fmt.Errorf("start the run: %w", err)
	}
	info := RunInfo{Run: run, PID: cmd.Process.Pid, Start: ps.start, Args: args}
	if err := writeJSON(filepath.Join(a.agentDir(key), "run.json"), info); err != nil {
		cmd.Process.Kill()
		return "", false, fmt.Errorf("start: %w", err)
	}
	// The supervisor outlives us; init reaps it.
	_ = cmd.Process.Release()
	return run, false, nil
}

// cancelGrace is how long a canceled run has to stop by itself (bootstrap
// run stops its steps and records them interrupted on SIGTERM) before
// every process it started is killed.
const cancelGrace = 3 * time.Second

// Supervise runs `self args...` (bootstrap run) and waits for it,
// recording its exit in exit.json. It is a child subreaper, so processes
// the run leaves behind stay its descendants; on SIGTERM, SIGINT or
// SIGHUP (board cancel) it passes SIGTERM on, waits cancelGrace, then
// kills every descendant. It returns the exit code to exit with.
func (a Agent) Supervise(self, key, run string, args []string) int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "bootstrap board: cannot become the run's subreaper (%v); processes it orphans may outlive a cancel\n", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	ex := ExitInfo{Run: run}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "bootstrap board: start the run: %v\n", err)
		ex.Code = 127
		a.finish(key, ex)
		return ex.Code
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-sigs:
		ex.Canceled = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr = <-done:
		case <-time.After(cancelGrace):
			killTree(os.Getpid())
			werr = <-done
		}
	}
	ex.Code = exitCode(werr)
	// Whatever the run left behind (a daemon a step started without a
	// sandbox) goes too: the run is over when exit.json says so.
	killTree(os.Getpid())
	a.finish(key, ex)
	return ex.Code
}

// finish records the run's end and says so at the end of its log.
func (a Agent) finish(key string, ex ExitInfo) {
	how := fmt.Sprintf("exit %d", ex.Code)
	if ex.Canceled {
		how += ", canceled"
	}
	fmt.Fprintf(os.Stderr, "bootstrap board: run %s ended (%s)\n", ex.Run, how)
	if err := writeJSON(filepath.Join(a.agentDir(key), "exit.json"), ex); err != nil {
		fmt.Fprintf(os.Stderr, "bootstrap board: %v\n", err)
	}
}

// exitCode is a finished command's exit code, 128+N for a signal N.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// killTree SIGKILLs every descendant of pid and reaps the ones that
// became pid's children, until none is left (at most 2 s). Steps in PID
// namespaces die with their namespace's init, which is a descendant.
func killTree(pid int) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		ds := Descendants(pid)
		if len(ds) == 0 || time.Now().After(deadline) {
			return
		}
		for _, d := range ds {
			_ = unix.Kill(d, unix.SIGKILL)
		}
		// Reap the orphans that came to us; the run's main process is
		// reaped by its exec.Cmd.
		for {
			var ws unix.WaitStatus
			p, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL, nil)
			if p <= 0 || err != nil {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Attach copies the log of run (of key) to w from offset on, following it
// until the run has ended and every byte is out. It returns nil then, or
// an error when run is not the key's last run or ended without a word
// (the supervisor was killed, the board rebooted).
func (a Agent) Attach(ctx context.Context, key, run string, offset int64, w io.Writer) error {
	st, err := a.Status(key)
	if err != nil {
		return err
	}
	if st.Run != run {
		return fmt.Errorf("attach: run %s of %s is not the board's last run (%q)", run, key, st.Run)
	}
	f, err := os.Open(a.LogPath(key))
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	buf := make([]byte, 64<<10)
	// When the SSH connection goes, sshd's process for it goes and we
	// are orphaned: stop then rather than follow a log nobody reads.
	parent := os.Getppid()
	for {
		if os.Getppid() != parent {
			return errors.New("attach: the SSH session is gone")
		}
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("attach: %w", err)
		}
		st, serr := a.Status(key)
		if serr != nil {
			return serr
		}
		if st.Exit != nil || !st.Alive {
			// Drain what was written between the read and the check.
			if _, err := io.Copy(w, f); err != nil {
				return err
			}
			if st.Exit == nil {
				return fmt.Errorf("the run %s on the board stopped without recording its end (its supervisor was killed or the board rebooted); run again to resume", run)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Cancel ends the run of key going on: SIGTERM to its supervisor, which
// stops the run and kills what is left after cancelGrace; Cancel waits
// for the supervisor to be gone (at most wait) and reports whether there
// was a run.
func (a Agent) Cancel(key string, wait time.Duration) (bool, error) {
	st, err := a.Status(key)
	if err != nil {
		return false, err
	}
	if !st.Alive {
		return false, nil
	}
	if err := unix.Kill(st.PID, unix.SIGTERM); err != nil {
		return true, fmt.Errorf("cancel run %s: %w", st.Run, err)
	}
	if !waitGone(st.PID, st.Start, wait) {
		// The supervisor itself hangs: take everything down by force.
		killTree(st.PID)
		_ = unix.Kill(st.PID, unix.SIGKILL)
		if !waitGone(st.PID, st.Start, time.Second) {
			return true, fmt.Errorf("cancel run %s: process %d is still there after %s", st.Run, st.PID, wait+time.Second)
		}
	}
	return true, nil
}

// MarshalStatus is st as one line of JSON.
func MarshalStatus(st Status) []byte {
	b, _ := json.Marshal(st)
	return append(b, '\n')
}
