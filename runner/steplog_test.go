package runner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestStepLogCap writes numbered lines through a capped log in chunks of
// several sizes and checks what the file keeps: the exact head, the exact
// tail, one line between saying how many bytes were dropped, and a size
// within the cap all along.
func TestStepLogCap(t *testing.T) {
	cases := []struct {
		name       string
		head, tail int64
		lines      int
		chunk      int
		wantDrop   bool
	}{
		{"under the cap", 4096, 8192, 100, 7, false},
		{"far over, small writes", 1000, 3000, 200000, 13, true},
		{"far over, large writes", 1000, 3000, 200000, 100000, true},
		{"no head", 0, 5000, 50000, 4096, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var all bytes.Buffer
			for i := 0; i < c.lines; i++ {
				fmt.Fprintf(&all, "line %d\n", i)
			}
			p := filepath.Join(t.TempDir(), "step.log")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			l := newStepLog(f, p, LogCap{Head: c.head, Tail: c.tail})
			data := all.Bytes()
			limit := c.head + 2*c.tail + 300
			for off := 0; off < len(data); off += c.chunk {
				l.Write(data[off:min(off+c.chunk, len(data))])
				if fi, _ := f.Stat(); fi.Size() > limit+int64(c.chunk) {
					t.Fatalf("log grew to %d bytes, cap %d+2*%d", fi.Size(), c.head, c.tail)
				}
			}
			if err := l.Err(); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			if !c.wantDrop {
				if !bytes.Equal(got, data) {
					t.Fatalf("a log under its cap changed")
				}
				return
			}
			m := regexp.MustCompile(`\n# bootstrap: (\d+) bytes of output dropped here[^\n]*\n`).FindSubmatchIndex(got)
			if m == nil {
				t.Fatalf("no dropped-bytes line in %d bytes", len(got))
			}
			dropped, _ := strconv.ParseInt(string(got[m[2]:m[3]]), 10, 64)
			head, rest := got[:m[0]], got[m[1]:]
			if int64(len(head)) != c.head || !bytes.Equal(head, data[:c.head]) {
				t.Errorf("head is %d bytes, not the first %d of the output", len(head), c.head)
			}
			if !bytes.HasSuffix(data, rest) || int64(len(rest)) < c.tail {
				t.Errorf("the %d bytes after the line are not the output's last bytes (at least %d)", len(rest), c.tail)
			}
			if want := int64(len(data)) - int64(len(head)) - int64(len(rest)); dropped != want {
				t.Errorf("line says %d bytes dropped, %d were", dropped, want)
			}
			if strings.Count(string(got), "bytes of output dropped") != 1 {
				t.Error("more than one dropped-bytes line")
			}
		})
	}
}

// TestStepLogDiskFull writes a log to /dev/full, whose every write fails
// with ENOSPC, as a full disk's does: writing never fails (the step's
// command must not die of SIGPIPE) and Err says the disk is full, naming
// the log.
func TestStepLogDiskFull(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	defer f.Close()
	l := newStepLog(f, "/work/logs/c/s.log", LogCap{Head: 10, Tail: 10})
	for i := 0; i < 3; i++ {
		if n, err := l.Write([]byte("output\n")); n != 7 || err != nil {
			t.Fatalf("Write = %d, %v; want 7, nil", n, err)
		}
	}
	err = l.Err()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "the disk is full") || !strings.Contains(err.Error(), "/work/logs/c/s.log") {
		t.Fatalf("Err() = %v", err)
	}
}

// TestParseLogCap reads the $BOOTSTRAP_LOG_CAP forms.
func TestParseLogCap(t *testing.T) {
	for in, want := range map[string]LogCap{
		"":         {DefaultLogHead, DefaultLogTail},
		"1M,4M":    {1 << 20, 4 << 20},
		"0,64K":    {0, 64 << 10},
		"512,1024": {512, 1024},
		"1M":       {},
		"1M,0":     {},
		"x,y":      {},
	} {
		got, err := ParseLogCap(in)
		if (want == LogCap{}) != (err != nil) || got != want {
			t.Errorf("ParseLogCap(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
