// Package quilt reads quilt series files, the list of patches that Debian
// source packages and quilt users keep in debian/patches/series.
package quilt

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Entry is one patch named by a series file.
type Entry struct {
	// Name is the patch path relative to the series file's directory.
	Name string
	// Strip is the -pN level from the line, or -1 when the line gives none.
	Strip int
	// Line is the 1-based line number in the series file.
	Line int
}

// Parse reads a series file: one patch per line, optionally followed by
// options (only -pN is meaningful; -R and others are rejected because
// silently ignoring them would apply the patch wrongly). '#' starts a comment;
// blank lines are skipped. It returns an error naming the line.
func Parse(r io.Reader) ([]Entry, error) {
	var entries []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		e := Entry{Name: fields[0], Strip: -1, Line: n}
		for _, opt := range fields[1:] {
			switch {
			case strings.HasPrefix(opt, "-p"):
				v, err := strconv.Atoi(strings.TrimPrefix(opt, "-p"))
				if err != nil || v < 0 {
					return nil, fmt.Errorf("line %d: bad strip option %q", n, opt)
				}
				e.Strip = v
			default:
				return nil, fmt.Errorf("line %d: unsupported option %q (only -pN is supported)", n, opt)
			}
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return entries, nil
}
