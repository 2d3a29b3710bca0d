package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// LogCap bounds a step's log: its first Head bytes and its last Tail bytes
// are kept, what came between is dropped and a line says how much. A step
// that prints without end (a test suite in a loop, a make -d) then cannot
// fill the disk: a 64 MB log once filled a small board's disk and killed
// its step with SIGPIPE (exit 141) and no word about the disk.
type LogCap struct {
	Head, Tail int64
}

// The default cap keeps the first 1 MiB (the command, the environment,
// the configure output) and the last 4 MiB (where a failure is) of each
// step.
const (
	DefaultLogHead = 1 << 20
	DefaultLogTail = 4 << 20
)

// ParseLogCap reads "HEAD,TAIL" with sizes as recipe.ParseSize reads them
// (e.g. "1M,4M"), the form of $BOOTSTRAP_LOG_CAP; "" is the default.
func ParseLogCap(s string) (LogCap, error) {
	if s == "" {
		return LogCap{Head: DefaultLogHead, Tail: DefaultLogTail}, nil
	}
	h, t, ok := strings.Cut(s, ",")
	head, err1 := recipe.ParseSize(h)
	tail, err2 := recipe.ParseSize(t)
	if !ok || err1 != nil || err2 != nil || tail <= 0 {
		return LogCap{}, fmt.Errorf("log cap %q: write HEAD,TAIL sizes, like 1M,4M", s)
	}
	return LogCap{Head: head, Tail: tail}, nil
}

// stepLog writes a step's log file within its cap. Past Head bytes the
// file grows to at most Head + 2*Tail bytes (plus one line), then its last
// Tail bytes are moved down behind Head and a line saying how much was
// dropped: so a run killed midway still leaves the recent output on disk,
// and the file never holds more than that.
//
// A write that fails (a full disk) is remembered and later output is
// discarded rather than refused: refusing would kill the step's command
// with SIGPIPE, hiding the cause. Err reports it after the step, naming
// the log; the step then fails with it.
type stepLog struct {
	f       *os.File
	path    string
	cap     LogCap
	size    int64 // bytes in the file
	written int64 // bytes written to the log, kept or not
	dropped int64
	// mark is where the dropped-bytes line starts (Head), -1 before any
	// output was dropped.
	mark int64
	// lastLine is the dropped-bytes line in the file now.
	lastLine string
	err      error
}

func newStepLog(f *os.File, path string, c LogCap) *stepLog {
	if c.Tail <= 0 {
		c = LogCap{Head: DefaultLogHead, Tail: DefaultLogTail}
	}
	return &stepLog{f: f, path: path, cap: c, mark: -1}
}

// Write writes b, or discards it after an earlier failure; it never
// returns an error (see stepLog).
func (l *stepLog) Write(b []byte) (int, error) {
	n := len(b)
	l.written += int64(n)
	if l.err != nil {
		return n, nil
	}
	if _, err := l.f.Write(b); err != nil {
		l.err = err
		return n, nil
	}
	l.size += int64(n)
	if l.size > l.cap.Head+2*l.cap.Tail+int64(len(l.dropLine())) {
		if err := l.compact(); err != nil {
			l.err = err
		}
	}
	return n, nil
}

// dropLine is the line standing for the dropped output.
func (l *stepLog) dropLine() string {
	return fmt.Sprintf("\n# bootstrap: %s bytes of output dropped here; the log keeps the first %d and the last %d bytes of a step ($BOOTSTRAP_LOG_CAP)\n",
		strconv.FormatInt(l.dropped, 10), l.cap.Head, l.cap.Tail)
}

// compact keeps the file's first Head bytes and its last Tail bytes, with
// the dropped-bytes line between.
func (l *stepLog) compact() error {
	tail := make([]byte, l.cap.Tail)
	if _, err := l.f.ReadAt(tail, l.size-l.cap.Tail); err != nil {
		return err
	}
	keepFrom := l.cap.Head
	if l.mark >= 0 {
		keepFrom = l.mark
		l.dropped += l.size - l.cap.Tail - l.mark - int64(len(l.lastLine))
	} else {
		l.dropped += l.size - l.cap.Tail - l.cap.Head
	}
	l.mark = keepFrom
	line := l.dropLine()
	l.lastLine = line
	if err := l.f.Truncate(keepFrom); err != nil {
		return err
	}
	if _, err := l.f.Seek(keepFrom, io.SeekStart); err != nil {
		return err
	}
	if _, err := l.f.Write(append([]byte(line), tail...)); err != nil {
		return err
	}
	l.size = keepFrom + int64(len(line)) + l.cap.Tail
	return nil
}

// Err returns the error of a write that failed, saying so when the disk is
// full; nil when the log was written whole (within its cap).
func (l *stepLog) Err() error {
	if l.err == nil {
		return nil
	}
	if errors.Is(l.err, syscall.ENOSPC) {
		return fmt.Errorf("its log %s could not be written: the disk is full: %w", l.path, l.err)
	}
	return fmt.Errorf("its log %s could not be written: %w", l.path, l.err)
}
