// Command benchnoop measures bootstrap's no-op rerun: it generates a recipe
// of 100 components with 4 steps each (400 steps, each component needing
// the previous two), runs it once, then times repeated runs that have
// nothing to do and prints the median wall time.
//
// Usage: go run ./scripts/benchnoop BOOTSTRAP_BINARY
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	components = 100
	steps      = 4
	reruns     = 31
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchnoop BOOTSTRAP_BINARY")
		os.Exit(2)
	}
	bin, err := filepath.Abs(os.Args[1])
	check(err)
	dir, err := os.MkdirTemp("", "benchnoop-")
	check(err)
	defer os.RemoveAll(dir)
	check(os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(recipe()), 0o644))

	start := time.Now()
	run(bin, dir)
	first := time.Since(start)

	times := make([]time.Duration, reruns)
	for i := range times {
		t := time.Now()
		out := run(bin, dir)
		times[i] = time.Since(t)
		if !strings.Contains(out, "nothing to run") {
			fmt.Fprintf(os.Stderr, "rerun %d did work:\n%s", i, out)
			os.Exit(1)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("no-op rerun, %d components / %d steps: median %.1f ms (min %.1f, max %.1f, %d runs; first run %.1fs); target < 50 ms\n",
		components, components*steps, ms(times[reruns/2]), ms(times[0]), ms(times[reruns-1]), reruns, first.Seconds())
}

func recipe() string {
	var b strings.Builder
	b.WriteString("name: big\ndescription: generated for the no-op rerun benchmark\nvars:\n  out: ${{ work }}/out\ncomponents:\n")
	for c := 0; c < components; c++ {
		fmt.Fprintf(&b, "  - name: c%03d\n", c)
		if c > 0 {
			b.WriteString("    needs: [")
			for i, n := range []int{c - 1, c - 2} {
				if n < 0 {
					continue
				}
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "c%03d", n)
			}
			b.WriteString("]\n")
		}
		fmt.Fprintf(&b, "    env:\n      COMPONENT: c%03d\n    steps:\n", c)
		for s := 0; s < steps; s++ {
			fmt.Fprintf(&b, "      - name: s%d\n        run: echo $COMPONENT %d > ${{ build }}/s%d.txt\n", s, s, s)
		}
	}
	return b.String()
}

func run(bin, dir string) string {
	cmd := exec.Command(bin, "run", "--plain", "-j", "2", "big.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bootstrap run: %v\n%s", err, out)
		os.Exit(1)
	}
	return string(out)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
