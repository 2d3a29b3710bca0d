package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// binary is the bootstrap command built once for the integration tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bootstrap-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building bootstrap for the integration tests:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// bs runs the built binary in dir.
func bs(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return bsEnv(t, dir, nil, args...)
}

// copyFixture copies testdata/<name> into a fresh temp dir.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join("testdata", name)+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copy fixture: %v %s", err, out)
	}
	return dst
}

var startRE = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d start (\S+)`)

// started lists the steps a run's output says it started, sorted.
func started(out string) []string {
	var ids []string
	for _, m := range startRE.FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	sort.Strings(ids)
	return ids
}

func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

func edit(t *testing.T, path, from, to string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(from)) {
		t.Fatalf("%s has no %q", path, from)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(from), []byte(to), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkReport(t *testing.T, dir, message string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(hostWork(dir, "chain"), "install/report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d\n%s", strings.Count(message, "\n"), rot13(message))
	if string(got) != want {
		t.Errorf("report.txt = %q, want %q", got, want)
	}
}

// TestChain builds the three-component chain, reruns it, changes one
// step's command and then a source file, and checks each time exactly which
// steps run and what explain says.
func TestChain(t *testing.T) {
	dir := copyFixture(t, "chain")
	msg, _ := os.ReadFile(filepath.Join(dir, "text/message.txt"))

	r := bs(t, dir, "run", "chain.yaml")
	if r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	all := []string{"data:fetch", "data:make", "data:patch", "report:summarise", "tool:build", "tool:fetch", "tool:patch"}
	if got := started(r.stdout); !equal(got, all) {
		t.Errorf("first run started %v, want %v", got, all)
	}
	checkReport(t, dir, string(msg))

	r = bs(t, dir, "run", "chain.yaml")
	if r.code != 0 || len(started(r.stdout)) != 0 || !strings.Contains(r.stdout, "all 7 steps are done; nothing to run") {
		t.Fatalf("rerun: exit %d, started %v\n%s", r.code, started(r.stdout), r.stdout)
	}

	// Change one step's command: that step and its dependents rerun.
	edit(t, filepath.Join(dir, "chain.yaml"), "> message.rot", "| tr -d '\\r' > message.rot")
	r = bs(t, dir, "plan", "chain.yaml")
	// Columns: step, state, last wall time, last CPU time ("-" for
	// bootstrap's own steps), why.
	if !regexp.MustCompile(`data:make\s+stale\s+\S+\s+\S+\s+command changed`).MatchString(r.stdout) ||
		!regexp.MustCompile(`report:summarise\s+stale\s+\S+\s+\S+\s+upstream step data:make changed`).MatchString(r.stdout) ||
		!regexp.MustCompile(`tool:build\s+done\s+\S+\s+[0-9.]+m?s\s`).MatchString(r.stdout) ||
		!regexp.MustCompile(`tool:fetch\s+done\s+\S+\s+-\s`).MatchString(r.stdout) {
		t.Errorf("plan after editing data:make:\n%s", r.stdout)
	}
	r = bs(t, dir, "explain", "chain.yaml", "data:make")
	if r.code != 0 || !strings.Contains(r.stdout, "data:make: stale") || !strings.Contains(r.stdout, "- command changed") ||
		!strings.Contains(r.stdout, "+ ") || !strings.Contains(r.stdout, "| tr -d") {
		t.Errorf("explain data:make: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = bs(t, dir, "run", "chain.yaml")
	if got, want := started(r.stdout), []string{"data:make", "report:summarise"}; r.code != 0 || !equal(got, want) {
		t.Errorf("after editing data:make: exit %d, started %v, want %v\n%s", r.code, got, want, r.stderr)
	}
	checkReport(t, dir, string(msg))

	// Change the tool's source: everything from tool:fetch on reruns.
	edit(t, filepath.Join(dir, "tool/rot13.c"), "return 0;", "return fflush(stdout);")
	r = bs(t, dir, "explain", "chain.yaml", "tool:fetch")
	if !strings.Contains(r.stdout, "source[0] changed: dir:sha256:") {
		t.Errorf("explain tool:fetch after a source edit:\n%s", r.stdout)
	}
	r = bs(t, dir, "run", "chain.yaml")
	if got, want := started(r.stdout), []string{"data:make", "report:summarise", "tool:build", "tool:fetch", "tool:patch"}; r.code != 0 || !equal(got, want) {
		t.Errorf("after editing the tool's source: exit %d, started %v, want %v", r.code, got, want)
	}
	checkReport(t, dir, string(msg))
}

// TestFailure checks what a porter sees when a step fails, and that fixing
// it resumes at that step.
func TestFailure(t *testing.T) {
	dir := copyFixture(t, "chain")
	edit(t, filepath.Join(dir, "chain.yaml"), "run: ${{ components.tool.build }}/rot13",
		"run: for i in $(seq 1 60); do echo line $i; done; exit 3; ${{ components.tool.build }}/rot13")
	r := bs(t, dir, "run", "chain.yaml")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	logPath := filepath.Join(hostWork(dir, "chain"), "logs/data/make.log")
	for _, want := range []string{"step data:make failed (exit 3), log: " + logPath, "--- data:make: last 40 lines of " + logPath, "line 60", "line 23\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "line 20\n") {
		t.Errorf("stderr shows more than the last 40 lines")
	}
	edit(t, filepath.Join(dir, "chain.yaml"), "exit 3; ", "")
	r = bs(t, dir, "run", "chain.yaml")
	if got, want := started(r.stdout), []string{"data:make", "report:summarise"}; r.code != 0 || !equal(got, want) {
		t.Errorf("after the fix: exit %d, started %v, want %v", r.code, got, want)
	}
}

// TestLocked runs a second bootstrap on a work dir whose first run is in
// the middle of a step.
func TestLocked(t *testing.T) {
	dir := copyFixture(t, "chain")
	// The step waits on a file outside the work dir, which a sandbox
	// hides: this test is about the lock, so it runs unconfined.
	gate := filepath.Join(dir, "gate")
	edit(t, filepath.Join(dir, "chain.yaml"), "run: cc -O2", "run: touch "+gate+".started; while [ ! -e "+gate+" ]; do sleep 0.05; done; cc -O2")
	first := exec.Command(binary, "run", "--no-sandbox", "chain.yaml")
	first.Dir = dir
	var out bytes.Buffer
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	for i := 0; ; i++ {
		if _, err := os.Stat(gate + ".started"); err == nil {
			break
		}
		if i > 600 {
			t.Fatalf("the first run never reached its step:\n%s", out.String())
		}
		sleep(10)
	}
	r := bs(t, dir, "run", "--no-sandbox", "chain.yaml")
	if r.code != 3 || !strings.Contains(r.stderr, fmt.Sprintf("work dir is locked by process %d", first.Process.Pid)) {
		t.Errorf("second run: exit %d, want 3 naming pid %d\n%s", r.code, first.Process.Pid, r.stderr)
	}
	os.WriteFile(gate, nil, 0o644)
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, out.String())
	}
	if r := bs(t, dir, "run", "--no-sandbox", "chain.yaml"); r.code != 0 {
		t.Errorf("after the first run ended: exit %d\n%s", r.code, r.stderr)
	}
}

// TestInvalidRecipeExit2 checks the exit code and the file:line:col form on
// the command line.
func TestInvalidRecipeExit2(t *testing.T) {
	dir := copyFixture(t, "chain")
	edit(t, filepath.Join(dir, "chain.yaml"), "needs: [tool]", "needs: [tol]")
	for _, cmd := range [][]string{{"run", "chain.yaml"}, {"validate", "chain.yaml"}, {"plan", "chain.yaml"}} {
		r := bs(t, dir, cmd...)
		if r.code != 2 || !strings.Contains(r.stderr, `chain.yaml:15:13: component data: needs unknown component "tol" (did you mean "tool"?)`) {
			t.Errorf("%v: exit %d\n%s", cmd, r.code, r.stderr)
		}
	}
	if r := bs(t, dir, "run"); r.code != 2 {
		t.Errorf("run without a recipe: exit %d, want 2", r.code)
	}
	if r := bs(t, dir, "run", "--no-such-flag", "chain.yaml"); r.code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", r.code)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, " ") == strings.Join(b, " ")
}

func sleep(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

// TestGoBootstrapTooOld: a chain step that would build Go 1.22 with Go 1.19
// fails before make.bash runs, naming the version it needs.
func TestGoBootstrapTooOld(t *testing.T) {
	dir := copyFixture(t, "goreq")
	r := bs(t, dir, "run", "goreq.yaml")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"step go:make failed", "go 1.22.12 needs Go ≥ 1.20.6 to build (src/cmd/dist/notgo120.go)", "is go1.19.8", "requirement at goreq.yaml:18:9"} {
		if !strings.Contains(r.stderr+r.stdout, want) {
			t.Errorf("output lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(hostWork(dir, "goreq"), "make-bash-ran")); err == nil {
		t.Error("make.bash ran although the bootstrap Go is too old")
	}
}

// TestOfflineChecksOnlySelectedSources: run --offline refuses before
// running anything when a source it needs is not in the cache, and does not
// ask for the sources of steps that --to leaves out.
func TestOfflineChecksOnlySelectedSources(t *testing.T) {
	dir := copyFixture(t, "chain")
	f, err := os.OpenFile(filepath.Join(dir, "chain.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Port 9 on loopback: nothing serves it, and offline nothing may try.
	fmt.Fprintf(f, `  - name: extra
    source:
      url: http://127.0.0.1:9/extra-1.0.tar.gz
      sha256: %s
    steps:
      - name: build
        run: ls
`, strings.Repeat("ab", 32))
	f.Close()

	r := bs(t, dir, "run", "--offline", "--plain", "chain.yaml")
	if r.code == 0 || !strings.Contains(r.stderr, "extra-1.0.tar.gz") || !strings.Contains(r.stderr, "nothing was run") {
		t.Fatalf("offline run of everything: exit %d, want a refusal naming extra-1.0.tar.gz\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := started(r.stdout); len(got) != 0 {
		t.Errorf("the refused run started %v", got)
	}
	r = bs(t, dir, "run", "--offline", "--plain", "--to", "data", "chain.yaml")
	if r.code != 0 {
		t.Fatalf("offline run --to data: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := []string{"data:fetch", "data:make", "data:patch", "tool:build", "tool:fetch", "tool:patch"}
	if got := started(r.stdout); !equal(got, want) {
		t.Errorf("offline run --to data started %v, want %v", got, want)
	}
}
