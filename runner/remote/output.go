package remote

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// dirWord is the board dir as a shell word; "~/" and "" mean the board
// user's home.
func dirWord(d string) string {
	switch {
	case d == "":
		return `"$HOME"/` + DefaultBoardDir
	case strings.HasPrefix(d, "~/"):
		return `"$HOME"/` + shellQuote(d[2:])
	}
	return shellQuote(d)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// countingWriter adds the bytes written through it to *n.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// lineWriter writes whole lines to out with a prefix, under a lock shared
// by every board, so that their outputs interleave by line.
type lineWriter struct {
	mu     *sync.Mutex
	out    io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	// One lock for the buffer too: after a cancel, a session's goroutine
	// may still write while Run flushes.
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(p), l.write(p)
}

func (l *lineWriter) write(p []byte) error {
	l.buf = append(l.buf, p...)
	i := bytes.LastIndexByte(l.buf, '\n')
	if i < 0 {
		return nil
	}
	var sb bytes.Buffer
	for _, line := range bytes.SplitAfter(l.buf[:i+1], []byte("\n")) {
		if len(line) > 0 {
			sb.WriteString(l.prefix)
			sb.Write(line)
		}
	}
	l.buf = append(l.buf[:0], l.buf[i+1:]...)
	_, err := l.out.Write(sb.Bytes())
	return err
}

// Flush writes a last unterminated line.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.write([]byte("\n"))
	}
}
