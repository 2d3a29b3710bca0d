package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBoardLinkCut cuts the link to the board 3 times during a 2-minute
// step: each cut is noticed within 45 s, the run is reattached within
// 10 s of the link's return, the step never restarts (one build id, in
// the streamed output and in its log on the board) and the provenance is
// that of an uninterrupted run of the same step, times apart. The step
// runs until the test creates install/release, so that the uninterrupted
// run, first, takes seconds; both run with --force-all in the same work
// dir, whose path is part of every signature.
func TestBoardLinkCut(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2-minute step")
	}
	t.Parallel()
	b := startBoard(t)
	dir := t.TempDir()
	boardWriteFile(t, filepath.Join(dir, "long.yaml"), `name: long
components:
  - name: long
    steps:
      - name: build
        run: |
          echo "build id $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
          i=0
          until [ -e ${{ work }}/install/release ]; do
            sleep 1
            i=$((i+1))
            if [ $((i % 15)) -eq 0 ]; then echo "tick $i"; fi
          done
          echo built > ${{ work }}/install/built
`)
	boardDir := filepath.Join(dir, "board")
	work := filepath.Join(boardDir, "runs", "long-amd64", "work")
	release := filepath.Join(work, "install", "release")

	// The uninterrupted run, released as soon as its step runs.
	calm := onCmd(t, b, dir, boardDir, "long.yaml", "--verbose", "--force-all")
	calmOut := start(t, calm)
	calmOut.wait(t, 0, "| build id", 60*time.Second)
	boardWriteFile(t, release, "")
	wait(t, calm, calmOut, time.Minute)
	calmProv := statementWithoutTimes(t, filepath.Join(work, "provenance.json"), boardDir)
	if err := os.Remove(release); err != nil {
		t.Fatal(err)
	}

	cut := onCmd(t, b, dir, boardDir, "long.yaml", "--verbose", "--force-all")
	out := start(t, cut)
	first, n := out.wait(t, 0, "| build id", 60*time.Second)
	for round := 1; round <= 3; round++ {
		time.Sleep(5 * time.Second)
		cutAt := time.Now()
		b.relay.Cut()
		lost, i := out.wait(t, n, "link lost", 60*time.Second)
		noticed := lost.at.Sub(cutAt)
		time.Sleep(3 * time.Second)
		backAt := time.Now()
		b.relay.Restore()
		re, j := out.wait(t, i, "reattached", 30*time.Second)
		took := re.at.Sub(backAt)
		n = j
		t.Logf("cut %d: noticed after %s, reattached %s after the link came back", round, noticed.Round(time.Millisecond), took.Round(time.Millisecond))
		if noticed > 45*time.Second {
			t.Errorf("cut %d noticed after %s, want ≤ 45 s", round, noticed)
		}
		if took > 10*time.Second {
			t.Errorf("cut %d: reattached %s after the link's return, want ≤ 10 s", round, took)
		}
	}
	time.Sleep(time.Until(first.at.Add(2 * time.Minute)))
	boardWriteFile(t, release, "")
	wait(t, cut, out, time.Minute)
	t.Logf("step ran %s", time.Since(first.at).Round(time.Second))

	text := out.text()
	ids := regexp.MustCompile(`build id ([0-9a-f]+)`).FindAllStringSubmatch(text, -1)
	if len(ids) != 1 {
		t.Fatalf("%d build ids in the streamed output, want 1 (the step restarted, or the log was streamed twice):\n%s", len(ids), text)
	}
	if n := strings.Count(text, "start long:build"); n != 1 {
		t.Errorf("the step started %d times, want 1", n)
	}
	ticks := regexp.MustCompile(`tick (\d+)\n`).FindAllStringSubmatch(text, -1)
	for i, m := range ticks {
		if m[1] != strconv.Itoa(15*(i+1)) {
			t.Errorf("tick %d is %s, want %d: a reattach lost or repeated output", i+1, m[1], 15*(i+1))
		}
	}
	if len(ticks) < 7 {
		t.Errorf("%d ticks streamed, want 7 or more for a 2-minute step", len(ticks))
	}
	var onBoard []string
	filepath.WalkDir(filepath.Join(work, "logs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			onBoard = append(onBoard, regexp.MustCompile(`build id [0-9a-f]+`).FindAllString(string(data), -1)...)
		}
		return nil
	})
	if len(onBoard) != 1 || onBoard[0] != "build id "+ids[0][1] {
		t.Errorf("build ids in the step's log on the board %v, want the streamed one (%s)", onBoard, ids[0][1])
	}
	if p := statementWithoutTimes(t, filepath.Join(work, "provenance.json"), boardDir); p != calmProv {
		t.Errorf("provenance of the cut run differs from the uninterrupted one's:\n%s\n---\n%s", p, calmProv)
	}
}

// start starts cmd with its output collected.
func start(t *testing.T, cmd *exec.Cmd) *timedLines {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	return collect(pr)
}

// wait waits for cmd to succeed within d.
func wait(t *testing.T, cmd *exec.Cmd, out *timedLines, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, out.text())
		}
	case <-time.After(d):
		cmd.Process.Kill()
		t.Fatalf("did not end within %s\n%s", d, out.text())
	}
}

// TestBoardOutlivesWorkstation kills `run --on` itself (the workstation
// going away): the board's run goes on, and the same command run again
// follows that run from the start of its log instead of starting another.
func TestBoardOutlivesWorkstation(t *testing.T) {
	t.Parallel()
	b := startBoard(t)
	dir := t.TempDir()
	boardDir := filepath.Join(dir, "board")
	work := filepath.Join(boardDir, "runs", "wait-amd64", "work")
	boardWriteFile(t, filepath.Join(dir, "wait.yaml"), `name: wait
components:
  - name: wait
    steps:
      - name: build
        run: |
          echo "build id $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
          until [ -e ${{ work }}/install/release ]; do sleep 0.2; done
`)
	first := onCmd(t, b, dir, boardDir, "wait.yaml", "--verbose")
	out1 := start(t, first)
	l, _ := out1.wait(t, 0, "| build id", 60*time.Second)
	first.Process.Kill()
	first.Wait()

	second := onCmd(t, b, dir, boardDir, "wait.yaml", "--verbose")
	out2 := start(t, second)
	out2.wait(t, 0, "is going on", 60*time.Second)
	l2, _ := out2.wait(t, 0, "| build id", 30*time.Second)
	boardWriteFile(t, filepath.Join(work, "install", "release"), "")
	wait(t, second, out2, time.Minute)
	idRE := regexp.MustCompile(`build id [0-9a-f]{16}`)
	id := idRE.FindString(l.text)
	if id == "" || idRE.FindString(l2.text) != id || len(idRE.FindAllString(out2.text(), -1)) != 1 || strings.Count(out2.text(), "start wait:build") != 1 {
		t.Errorf("the second command did not follow the first run (%s) from its start:\n%s", id, out2.text())
	}
}

// TestBoardLinkCutWhileSending cuts a slow link while the board's binary
// is on its way: the cut is noticed, the command reconnects and sets up
// again (the binary arrives whole, checked by its digest), and the run
// finishes.
func TestBoardLinkCutWhileSending(t *testing.T) {
	t.Parallel()
	b := startBoard(t)
	b.relay.rate.Store(4 << 20)
	dir := t.TempDir()
	boardDir := filepath.Join(dir, "board")
	boardWriteFile(t, filepath.Join(dir, "small.yaml"), "name: small\ncomponents:\n  - name: a\n    steps:\n      - name: s\n        run: echo ran\n")
	cmd := onCmd(t, b, dir, boardDir, "small.yaml")
	out := start(t, cmd)
	_, i := out.wait(t, 0, "sending bootstrap", 60*time.Second)
	time.Sleep(time.Second)
	cutAt := time.Now()
	b.relay.Cut()
	lost, j := out.wait(t, i, "link lost", 60*time.Second)
	b.relay.Restore()
	backAt := time.Now()
	re, _ := out.wait(t, j, "reconnected", 30*time.Second)
	t.Logf("cut noticed after %s; reconnected %s after the link came back", lost.at.Sub(cutAt).Round(time.Millisecond), re.at.Sub(backAt).Round(time.Millisecond))
	wait(t, cmd, out, 2*time.Minute)
	bins, _ := filepath.Glob(filepath.Join(boardDir, "bin", "*"))
	partial, _ := filepath.Glob(filepath.Join(boardDir, "bin", ".*"))
	if len(bins) != 1 || len(partial) != 0 {
		t.Errorf("board binaries %v, partial uploads %v; want one binary and none", bins, partial)
	}
	if !strings.Contains(out.text(), "exit 0") {
		t.Errorf("the run did not finish:\n%s", out.text())
	}
}
