// Command steptimes compares the same recipe's steps in two work dirs — a
// native run and one on another userland (an emulated target, another
// board) — by their last checkpoints: wall time, CPU time and the ratio of
// CPU times. CPU time (user+system of the step's processes, recorded by
// bootstrap from wait4) is what makes runs on a shared machine comparable;
// wall time depends on what else ran.
//
// Usage: go run ./scripts/steptimes BASE_WORKDIR OTHER_WORKDIR
//
// It prints a Markdown table, one row per step checkpointed in either work
// dir, in the order the steps finished in OTHER_WORKDIR (then BASE's).
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/state"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: steptimes BASE_WORKDIR OTHER_WORKDIR")
		os.Exit(2)
	}
	base, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "steptimes:", err)
		os.Exit(1)
	}
	other, err := load(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "steptimes:", err)
		os.Exit(1)
	}
	var ids []string
	seen := map[string]bool{}
	for _, m := range []map[string]*state.Checkpoint{other, base} {
		var these []string
		for id := range m {
			if !seen[id] {
				seen[id] = true
				these = append(these, id)
			}
		}
		sort.Slice(these, func(i, j int) bool { return m[these[i]].Finished.Before(m[these[j]].Finished) })
		ids = append(ids, these...)
	}
	fmt.Printf("| step | %s wall | CPU | %s wall | CPU | CPU ratio |\n", filepath.Base(os.Args[1]), filepath.Base(os.Args[2]))
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for _, id := range ids {
		b, o := base[id], other[id]
		ratio := ""
		if b != nil && o != nil && b.CPUSeconds > 0 && o.CPUSeconds > 0 {
			ratio = fmt.Sprintf("%.1f×", o.CPUSeconds/b.CPUSeconds)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", id, wall(b), cpu(b), wall(o), cpu(o), ratio)
	}
}

// load reads every checkpoint under dir/state.
func load(dir string) (map[string]*state.Checkpoint, error) {
	store := state.Open(dir)
	root := filepath.Join(dir, "state")
	out := map[string]*state.Checkpoint{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		rel, _ := filepath.Rel(root, strings.TrimSuffix(path, ".json"))
		id := strings.Replace(filepath.ToSlash(rel), "/", ":", 1)
		cp, err := store.Load(id)
		if err != nil {
			return err
		}
		if cp != nil {
			out[id] = cp
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoints of %s: %w", dir, err)
	}
	return out, nil
}

func wall(cp *state.Checkpoint) string {
	if cp == nil {
		return "–"
	}
	return round(cp.Seconds)
}

func cpu(cp *state.Checkpoint) string {
	if cp == nil || cp.CPUSeconds == 0 {
		return "–"
	}
	return progress.Round(cp.CPU())
}

func round(s float64) string { return progress.Round(time.Duration(s * float64(time.Second))) }
