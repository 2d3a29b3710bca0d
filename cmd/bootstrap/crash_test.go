package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashRecipe is a chain of three components with three steps each. Every
// step appends "start <id> <build>" to a journal, works a little, writes
// its result from its predecessor's, and appends "end <id> <build>".
// BOOTSTRAP_BUILD is the build ID the checkpoint will carry.
func crashRecipe(journal string) string {
	var b strings.Builder
	b.WriteString("name: crash\ncomponents:\n")
	prev := ""
	for c := 1; c <= 3; c++ {
		fmt.Fprintf(&b, "  - name: c%d\n", c)
		if c > 1 {
			fmt.Fprintf(&b, "    needs: [c%d]\n", c-1)
		}
		b.WriteString("    steps:\n")
		for s := 1; s <= 3; s++ {
			id := fmt.Sprintf("c%d:s%d", c, s)
			in := "echo seed"
			if prev != "" {
				in = "cat " + prev
			}
			// In the shared install prefix: a step's sandbox lets it
			// write there and in its own trees only.
			out := fmt.Sprintf("${{ work }}/install/out-c%d-s%d", c, s)
			fmt.Fprintf(&b, "      - name: s%d\n        run: |\n", s)
			fmt.Fprintf(&b, "          echo \"start %s $BOOTSTRAP_BUILD\" >> %s\n", id, journal)
			fmt.Fprintf(&b, "          sleep 0.0%d\n", 2+(c*s)%7)
			fmt.Fprintf(&b, "          { %s; echo %s; } > %s.tmp\n", in, id, out)
			fmt.Fprintf(&b, "          mv %s.tmp %s\n", out, out)
			fmt.Fprintf(&b, "          echo \"end %s $BOOTSTRAP_BUILD\" >> %s\n", id, journal)
			prev = out
		}
	}
	return b.String()
}

// checkpoints reads every checkpoint's build ID from the work dir.
func checkpoints(t *testing.T, work string) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(work, "state", "*", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cp struct{ Step, Build string }
		if err := json.Unmarshal(data, &cp); err != nil {
			t.Fatalf("checkpoint %s is not valid JSON after a crash: %v", f, err)
		}
		out[cp.Step] = cp.Build
	}
	return out
}

// journal reads the journal as lines of "start|end id build".
func journal(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.Fields(sc.Text()))
	}
	return lines
}

// TestCrashResume kills runs with SIGKILL at random moments, at least 20
// times, and checks after every kill that no step is recorded done unless
// its command finished, and that no step recorded done ever runs again.
func TestCrashResume(t *testing.T) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	// The journal is where steps may write (they see the work dir at the
	// sandbox's fixed path) and the test can read.
	jpath := filepath.Join(hostWork(dir, "crash"), "install", "journal")
	if err := os.WriteFile(filepath.Join(dir, "crash.yaml"), []byte(crashRecipe("${{ work }}/install/journal")), 0o644); err != nil {
		t.Fatal(err)
	}
	work := hostWork(dir, "crash")

	// check verifies the invariants after a run (killed or not) that
	// started with the checkpoints in before and the journal at length from.
	check := func(round int, before map[string]string, from int) {
		t.Helper()
		checkRound(t, round, work, jpath, before, from)
	}

	kills := 0
	for round := 1; kills < 20 && round <= 200; round++ {
		before := checkpoints(t, work)
		if len(before) == 9 {
			// Finished before we could kill it: start over.
			if r := bs(t, dir, "clean", "crash.yaml"); r.code != 0 {
				t.Fatalf("clean: %s", r.stderr)
			}
			before = map[string]string{}
		}
		from := len(journal(t, jpath))
		cmd := exec.Command(binary, "run", "crash.yaml")
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
		if cmd.Process.Kill() == nil {
			kills++
		}
		cmd.Wait()
		check(round, before, from)
	}
	if kills < 20 {
		t.Fatalf("only %d kills landed", kills)
	}
	before := checkpoints(t, work)
	from := len(journal(t, jpath))
	r := bs(t, dir, "run", "crash.yaml")
	if r.code != 0 {
		t.Fatalf("final run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	check(0, before, from)
	got, err := os.ReadFile(filepath.Join(work, "install", "out-c3-s3"))
	if err != nil {
		t.Fatal(err)
	}
	want := "seed\nc1:s1\nc1:s2\nc1:s3\nc2:s1\nc2:s2\nc2:s3\nc3:s1\nc3:s2\nc3:s3\n"
	if string(got) != want {
		t.Errorf("final result %q, want %q", got, want)
	}
	t.Logf("%d kills", kills)
}

// checkRound checks the invariants after a run (killed or not) that
// started with the checkpoints in before and the journal at length from:
// every step recorded done finished its command, nothing done ran
// again. TestCrashResume and TestBoardKilled share it.
func checkRound(t *testing.T, round int, work, jpath string, before map[string]string, from int) {
	t.Helper()
	now := checkpoints(t, work)
	lines := journal(t, jpath)
	ended := map[string]bool{}
	for _, l := range lines {
		if len(l) == 3 && l[0] == "end" {
			ended[l[1]+" "+l[2]] = true
		}
	}
	for id, build := range now {
		if !ended[id+" "+build] {
			t.Errorf("round %d: %s is recorded done (build %s) but its command never finished", round, id, build)
		}
	}
	for id, build := range before {
		if now[id] != build {
			t.Errorf("round %d: %s was done (build %s) and ran again (now %q)", round, id, build, now[id])
		}
	}
	if from > len(lines) {
		from = len(lines)
	}
	for _, l := range lines[from:] {
		if len(l) == 3 && l[0] == "start" && before[l[1]] != "" {
			t.Errorf("round %d: %s was done and started again", round, l[1])
		}
	}
}
