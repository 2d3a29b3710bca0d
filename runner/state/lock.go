package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Lock is the advisory lock that keeps two runs out of one work dir. It is
// an flock(2) on <work>/lock, so the kernel drops it when the holder dies,
// even by SIGKILL; the file's content only says who holds it.
type Lock struct {
	f *os.File
}

// LockedError says that another process holds the work dir.
type LockedError struct {
	Path  string
	PID   int
	Since string
	Cmd   string
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("process %d", e.PID)
		if e.Cmd != "" {
			who += fmt.Sprintf(" (%s)", e.Cmd)
		}
		if e.Since != "" {
			who += " since " + e.Since
		}
	}
	return fmt.Sprintf("work dir is locked by %s: %s; wait for it to finish or stop it", who, e.Path)
}

// Acquire takes the lock of workDir without waiting. If another process
// holds it, the error is a *LockedError naming that process. workDir must
// exist: creating a work dir is package workdir's job, which marks it as
// one, so Acquire never makes a directory bootstrap could later mistake
// for its own.
func Acquire(workDir string) (*Lock, error) {
	p := filepath.Join(workDir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, holder(p)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	info := fmt.Sprintf("pid %d\nsince %s\ncmd %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339), strings.Join(os.Args, " "))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(info), 0)
	}
	return &Lock{f: f}, nil
}

// holder reads who holds the lock from the lock file.
func holder(path string) error {
	e := &LockedError{Path: path}
	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			e.PID, _ = strconv.Atoi(v)
		case "since":
			e.Since = v
		case "cmd":
			e.Cmd = v
		}
	}
	return e
}

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
