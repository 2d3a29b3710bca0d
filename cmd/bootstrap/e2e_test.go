package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EBookwormDocker runs the real chain of recipes/bookworm-docker.yaml
// (gccgo-12 → Go 1.19.8 → cgo → Docker 20.10.24 → a container) through
// scripts/e2e-chain.sh, then checks the two promises a porter relies on: a
// finished chain reruns nothing, fast; and a run killed with SIGKILL in the
// middle of the Docker engine build resumes without rebuilding Go. It needs
// root, Debian 12 and the Debian archive, and takes a quarter of an hour on
// two cores the first time, so it only runs with BOOTSTRAP_E2E=1 (make e2e).
//
// BOOTSTRAP_WORKDIR and BOOTSTRAP_CACHE choose the work dir and cache
// (default .bootstrap/bookworm-docker and .bootstrap/cache in the
// repository, kept between runs so a second `make e2e` is incremental).
func TestE2EBookwormDocker(t *testing.T) {
	if os.Getenv("BOOTSTRAP_E2E") != "1" {
		t.Skip("set BOOTSTRAP_E2E=1 to build the real gccgo → Go → Docker chain (make e2e)")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	work := envOr("BOOTSTRAP_WORKDIR", filepath.Join(repo, ".bootstrap", "bookworm-docker"))
	cache := envOr("BOOTSTRAP_CACHE", filepath.Join(repo, ".bootstrap", "cache"))
	recipe := filepath.Join(repo, "recipes", "bookworm-docker.yaml")
	runArgs := []string{"run", "--offline", "--plain", "--workdir", work, "--cache", cache}

	t.Run("chain", func(t *testing.T) {
		start := time.Now()
		cmd := exec.Command(filepath.Join(repo, "scripts", "e2e-chain.sh"))
		cmd.Env = append(os.Environ(), "BOOTSTRAP="+binary, "BOOTSTRAP_WORKDIR="+work, "BOOTSTRAP_CACHE="+cache)
		var out strings.Builder
		cmd.Stdout = io.MultiWriter(os.Stdout, &out)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("scripts/e2e-chain.sh: %v", err)
		}
		t.Logf("chain: %s", time.Since(start).Round(time.Second))
		checkContainerSaid(t, out.String())
	})
	if t.Failed() {
		return
	}

	t.Run("noop rerun", func(t *testing.T) {
		took := map[bool]time.Duration{}
		for _, skipDoctor := range []bool{true, false} {
			args := append([]string(nil), runArgs...)
			if skipDoctor {
				args = append(args, "--skip-doctor")
			}
			start := time.Now()
			r := bs(t, repo, append(args, recipe)...)
			took[skipDoctor] = time.Since(start)
			if r.code != 0 {
				t.Fatalf("rerun exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if s := started(r.stdout + r.stderr); len(s) > 0 {
				t.Errorf("rerun started %v, want nothing", s)
			}
		}
		t.Logf("no-op rerun: %s (%s with --skip-doctor)", took[false], took[true])
		// The promise is for the plain command; the --skip-doctor time
		// tells the host checks apart from the plan when it is broken.
		if took[false] >= time.Second {
			t.Errorf("no-op rerun took %s, want < 1s (%s of it is the host checks: --skip-doctor takes %s)",
				took[false], took[false]-took[true], took[true])
		}
	})

	t.Run("kill during engine build", func(t *testing.T) {
		// Force the engine build and SIGKILL bootstrap while it compiles.
		// Its Go build cache goes first (a cache, not a step's output), or
		// the forced build is over in seconds: the kill must land in a
		// real, cold compile.
		const step = "docker-engine:build"
		if err := os.RemoveAll(filepath.Join(work, "build", "docker-engine", "_build", "go-build")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, append(runArgs, "--force", step, recipe)...)
		cmd.Dir = repo
		lines := startLines(t, cmd)
		waitFor(t, lines, "start "+step, 20*time.Minute)
		// Well into the compile, so the kill lands in the middle of it.
		time.Sleep(20 * time.Second)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for l := range lines { // until the killed run's output ends
			if strings.Contains(l, "done "+step) || strings.Contains(l, "failed") {
				t.Fatalf("%s ended before the kill: %s", step, l)
			}
		}

		start := time.Now()
		r := bs(t, repo, append(runArgs, recipe)...)
		if r.code != 0 {
			t.Fatalf("run after the kill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		got := started(r.stdout + r.stderr)
		want := []string{"docker-engine:build", "docker-engine:install", "smoke:run"}
		if !equal(got, want) {
			t.Errorf("run after the kill started %v, want %v", got, want)
		}
		t.Logf("resume after the kill: %s", time.Since(start).Round(time.Second))
		b, err := os.ReadFile(filepath.Join(work, "build", "smoke", "container-output.txt"))
		if err != nil {
			t.Fatal(err)
		}
		checkContainerSaid(t, "the container said\n"+string(b))
	})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// checkContainerSaid checks that the output ends with what the container
// printed: this machine's uname -m.
func checkContainerSaid(t *testing.T, out string) {
	t.Helper()
	uname, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "the container said\n" + string(uname)
	if !strings.HasSuffix(out, want) {
		t.Errorf("output does not end with %q:\n%s", want, out)
	}
}

// startLines starts cmd and returns its output (stdout and stderr) line by
// line, each also copied to our stdout; the channel is closed once cmd has
// exited and its output ended. Only this function waits for cmd.
func startLines(t *testing.T, cmd *exec.Cmd) <-chan string {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// A killed bootstrap's grandchildren may hold the pipe open until the
	// next run reaps them; do not wait for them.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		pw.Close()
	}()
	ch := make(chan string, 1024)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Println(sc.Text())
			ch <- sc.Text()
		}
	}()
	return ch
}

// waitFor reads lines until one contains s, failing after d.
func waitFor(t *testing.T, lines <-chan string, s string, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before %q", s)
			}
			if strings.Contains(l, s) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within %s", s, d)
		}
	}
}
