package patchwork

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
)

// NextNumber returns the number for the next patch in dir: one more than
// the highest NNNN- prefix of a .patch file there, or 1.
func NextNumber(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list patches: %w", err)
	}
	next := 1
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "-")
		if n, err := strconv.Atoi(num); ok && err == nil && strings.HasSuffix(e.Name(), ".patch") {
			next = max(next, n+1)
		}
	}
	return next, nil
}

// UpdateSeries appends to the quilt series file at path every name (relative
// to the series file's directory) it does not list yet, creating the file if
// needed. Comments, options and order of the existing lines are kept. The
// file is replaced atomically (atomicfile.Write).
func UpdateSeries(path string, names []string) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read series: %w", err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if f := strings.Fields(line); len(f) > 0 {
			listed[f[0]] = true
		}
	}
	out := string(data)
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	for _, n := range names {
		if !listed[n] {
			out += n + "\n"
			listed[n] = true
		}
	}
	return atomicfile.Write(path, []byte(out), 0o644)
}
