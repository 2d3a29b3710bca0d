// Command benchnoop measures what bootstrap costs when it has nothing to
// do, beside GNU make's no-op on an equivalent Makefile (the floor a
// porter compares with): the CPU time (user+sys, from the child's rusage)
// of repeated no-op reruns, median of N.
//
// Two figures:
//
//   - a generated recipe of 100 components with 4 steps each (400 steps,
//     each component needing the previous two), run once, then rerun; make
//     gets 400 file targets chained the same way;
//   - the real chain, recipes/bookworm-docker.yaml, in a finished work dir
//     named by BENCH_CHAIN_WORKDIR (its cache by BENCH_CHAIN_CACHE; `make
//     e2e` makes both); make gets a chain of as many targets as the plan
//     has steps. Without BENCH_CHAIN_WORKDIR it prints "skipped: …".
//
// Usage: go run ./scripts/benchnoop [-runs N] BOOTSTRAP_BINARY
package main

import (
	"flag"
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
	// The targets: bootstrap's no-op rerun CPU, median.
	targetGenerated = 25 * time.Millisecond
	targetChain     = 30 * time.Millisecond
)

func main() {
	runs := flag.Int("runs", 31, "timed no-op reruns per figure")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchnoop [-runs N] BOOTSTRAP_BINARY")
		os.Exit(2)
	}
	bin, err := filepath.Abs(flag.Arg(0))
	check(err)
	generated(bin, *runs)
	chain(bin, *runs)
}

// generated measures the 400-step recipe against make.
func generated(bin string, runs int) {
	dir, err := os.MkdirTemp("", "benchnoop-")
	check(err)
	defer os.RemoveAll(dir)
	check(os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(recipe()), 0o644))
	argv := []string{bin, "run", "--plain", "-j", "2", "big.yaml"}
	start := time.Now()
	mustRun(dir, argv)
	first := time.Since(start)
	bs := noop(dir, argv, runs)
	mk := makeNoop(dir, components*steps, steps, runs)
	report(fmt.Sprintf("generated recipe, %d steps (first run %.1fs)", components*steps, first.Seconds()), bs, mk, targetGenerated)
}

// chain measures the real chain's finished work dir, when there is one.
func chain(bin string, runs int) {
	work := os.Getenv("BENCH_CHAIN_WORKDIR")
	if work == "" {
		fmt.Println("real chain: skipped: set BENCH_CHAIN_WORKDIR (and BENCH_CHAIN_CACHE) to a finished work dir of recipes/bookworm-docker.yaml, as `make e2e` leaves")
		return
	}
	recipe, err := filepath.Abs(envOr("BENCH_CHAIN_RECIPE", "recipes/bookworm-docker.yaml"))
	check(err)
	argv := []string{bin, "run", "--plain", "--offline", "--workdir", work, recipe}
	if c := os.Getenv("BENCH_CHAIN_CACHE"); c != "" {
		argv = append(argv, "--cache", c)
	}
	n := countSteps(bin, work, recipe)
	dir, err := os.MkdirTemp("", "benchnoop-chain-")
	check(err)
	defer os.RemoveAll(dir)
	bs := noop(".", argv, runs)
	mk := makeNoop(dir, n, n, runs)
	report(fmt.Sprintf("real chain %s, %d steps", filepath.Base(recipe), n), bs, mk, targetChain)
}

// noop runs argv once to check it has nothing to do, then runs times
// and returns the CPU time of each run.
func noop(dir string, argv []string, runs int) []time.Duration {
	times := make([]time.Duration, runs)
	for i := range times {
		out, cpu := mustRun(dir, argv)
		if !strings.Contains(out, "nothing to run") {
			fmt.Fprintf(os.Stderr, "%s: rerun %d did work:\n%s", strings.Join(argv, " "), i, out)
			os.Exit(1)
		}
		times[i] = cpu
	}
	return times
}

// makeNoop writes a Makefile of n file targets in chains of perChain (the
// first of each chain needing the last of the previous two chains, as the
// generated recipe's components do), makes it once, then times make's
// no-op reruns.
func makeNoop(dir string, n, perChain, runs int) []time.Duration {
	var b strings.Builder
	last := func(c int) string { return fmt.Sprintf("out/c%03d.s%d", c, perChain-1) }
	chains := (n + perChain - 1) / perChain
	fmt.Fprintf(&b, "all: %s\n", last(chains-1))
	for c := 0; c < chains; c++ {
		for s := 0; s < perChain && c*perChain+s < n; s++ {
			t := fmt.Sprintf("out/c%03d.s%d", c, s)
			var deps []string
			switch {
			case s > 0:
				deps = append(deps, fmt.Sprintf("out/c%03d.s%d", c, s-1))
			case c > 1:
				deps = append(deps, last(c-1), last(c-2))
			case c == 1:
				deps = append(deps, last(0))
			}
			fmt.Fprintf(&b, "%s: %s\n\t@mkdir -p out && echo c%03d %d > $@\n", t, strings.Join(deps, " "), c, s)
		}
	}
	check(os.WriteFile(filepath.Join(dir, "Makefile"), []byte(b.String()), 0o644))
	argv := []string{"make", "-f", "Makefile"}
	mustRun(dir, argv)
	times := make([]time.Duration, runs)
	for i := range times {
		out, cpu := mustRun(dir, argv)
		if !strings.Contains(out, "is up to date") && !strings.Contains(out, "Nothing to be done") {
			fmt.Fprintf(os.Stderr, "make rerun %d did work:\n%s", i, out)
			os.Exit(1)
		}
		times[i] = cpu
	}
	return times
}

// countSteps is the number of steps in the chain's plan.
func countSteps(bin, work, recipe string) int {
	out, _ := mustRun(".", []string{bin, "plan", "--workdir", work, recipe})
	var n int
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%d steps", &n); err != nil {
		fmt.Fprintf(os.Stderr, "bootstrap plan: no step count in:\n%s", out)
		os.Exit(1)
	}
	return n
}

// report prints one figure: bootstrap's and make's median CPU time.
func report(what string, bs, mk []time.Duration, target time.Duration) {
	b, m := stats(bs), stats(mk)
	verdict := "ok"
	if b.median > target {
		verdict = "OVER TARGET"
	}
	fmt.Printf("%s: no-op rerun CPU (user+sys) median %.1f ms (min %.1f, max %.1f, %d runs); GNU make %.1f ms; target <= %.0f ms: %s\n",
		what, ms(b.median), ms(b.min), ms(b.max), len(bs), ms(m.median), ms(target), verdict)
}

type summary struct{ median, min, max time.Duration }

func stats(ts []time.Duration) summary {
	s := append([]time.Duration(nil), ts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return summary{median: s[len(s)/2], min: s[0], max: s[len(s)-1]}
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

// mustRun runs argv in dir and returns its output and the CPU time it
// used (user+sys of the child, from its rusage); a failure ends benchnoop.
func mustRun(dir string, argv []string) (string, time.Duration) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n%s", strings.Join(argv, " "), err, out)
		os.Exit(1)
	}
	return string(out), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
