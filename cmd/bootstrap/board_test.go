package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// boardDistOnce builds the static binary a board is sent, as `make dist`
// names it, next to the test binary (TestMain removes that dir).
var boardDistOnce sync.Once

// boardDist returns a dist dir holding bootstrap-linux-amd64, static.
func boardDist(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(binary), "dist")
	var err error
	var out []byte
	boardDistOnce.Do(func() {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "bootstrap-linux-amd64"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("build the board's binary: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bootstrap-linux-amd64")); err != nil {
		t.Fatalf("no board binary: %v", err)
	}
	return dir
}

// onCmd is `bootstrap run --on` of the recipe in dir on board b, with
// board dir boardDir; it is not started.
func onCmd(t *testing.T, b *sshBoard, dir, boardDir string, args ...string) *exec.Cmd {
	t.Helper()
	all := append([]string{"run", "--on", b.url(), "--board-dir", boardDir}, b.flags()...)
	cancelRunsAtCleanup(t, boardDir)
	cmd := exec.Command(binary, append(all, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(dir, ".config"),
		"BOOTSTRAP_DIST="+boardDist(t), "SSH_AUTH_SOCK=")
	return cmd
}

// cancelRunsAtCleanup cancels, at the end of the test, every run under
// boardDir that is still going on (a test that failed half-way leaves
// its detached run behind otherwise).
func cancelRunsAtCleanup(t *testing.T, boardDir string) {
	t.Cleanup(func() {
		keys, _ := os.ReadDir(filepath.Join(boardDir, "runs"))
		for _, k := range keys {
			exec.Command(binary, "board", "cancel", "--dir", boardDir, "--key", k.Name()).Run()
		}
	})
}

// tarGz is a .tar.gz holding the named files.
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

var sentRE = regexp.MustCompile(`sources: sent (\d+) files \((\d+) bytes\); (\d+) already on the board`)

// TestBoardSendsOnce runs a recipe with a cached tarball source, a Go
// module and a git repository the board cannot download, and a patch,
// on a real sshd twice: the first run sends the binary, the recipe,
// the patch and the tarball; the second (with its key in ssh-agent) sends
// 0 source bytes. Host keys:
// an unknown board is refused without --accept-new, and a changed key is
// refused naming the known_hosts file and line.
func TestBoardSendsOnce(t *testing.T) {
	t.Parallel()
	b := startBoard(t)
	dir := t.TempDir()
	tgz := tarGz(t, map[string]string{"pkg/msg.txt": "hello from the workstation\n"})
	sum := fmt.Sprintf("%x", sha256.Sum256(tgz))
	boardWriteFile(t, filepath.Join(dir, "pkg.tar.gz"), string(tgz))
	boardWriteFile(t, filepath.Join(dir, "patches", "0001-board.patch"), `--- a/msg.txt
+++ b/msg.txt
@@ -1 +1 @@
-hello from the workstation
+hello from the board
`)
	// A Go module from a proxy on this side's loopback, which the board
	// (in its own network namespace) cannot reach: it must be sent.
	modZip, h1 := boardModuleZip(t, "example.com/hello", "v1.0.0", map[string]string{"go.mod": "module example.com/hello\n", "mod.txt": "from a module\n"})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/example.com/hello/@v/v1.0.0.zip" {
			http.NotFound(w, r)
			return
		}
		w.Write(modZip)
	}))
	defer proxy.Close()
	// A git repository the workstation fetched once and that is gone
	// since: the board gets it only from the workstation's cache.
	repo := filepath.Join(dir, "upstream.git")
	boardWriteFile(t, filepath.Join(repo, "git.txt"), "from git\n")
	gitIn(t, repo, "init", "-q")
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-q", "-m", "one")
	commit := gitIn(t, repo, "rev-parse", "HEAD")
	boardWriteFile(t, filepath.Join(dir, "recipes", "hello.yaml"), fmt.Sprintf(`name: hello
components:
  - name: hello
    sources:
      - url: http://127.0.0.1:9/pkg.tar.gz
        sha256: %s
        strip: 1
      - gomod: example.com/hello@v1.0.0
        h1: %s
        dest: mod
      - git: file://%s
        commit: %s
        dest: git
    patches:
      - file: ../patches/0001-board.patch
    steps:
      - name: build
        run: cat ${{ src }}/msg.txt ${{ src }}/mod/mod.txt ${{ src }}/git/git.txt > ${{ work }}/install/msg.txt
`, sum, h1, repo, commit))
	if r := bs(t, dir, "cache", "add", filepath.Join(dir, "pkg.tar.gz")); r.code != 0 {
		t.Fatalf("cache add: exit %d\n%s", r.code, r.stderr)
	}
	if r := bsEnv(t, dir, []string{"GOPROXY=" + proxy.URL}, "fetch", "recipes/hello.yaml"); r.code != 0 {
		t.Fatalf("fetch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := os.Rename(repo, repo+".gone"); err != nil {
		t.Fatal(err)
	}
	boardDir := filepath.Join(dir, "board")

	// Unknown host, no --accept-new: refused before anything is sent.
	cmd := onCmd(t, b, dir, boardDir, "recipes/hello.yaml")
	cmd.Args = without(cmd.Args, "--accept-new")
	r := runResult(t, cmd)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "is not in "+b.known) || !strings.Contains(r.stdout+r.stderr, "--accept-new") {
		t.Fatalf("unknown host: exit %d, want a refusal naming %s and --accept-new:\n%s%s", r.code, b.known, r.stdout, r.stderr)
	}

	var sent [2][3]int
	// The second run logs in with the key in a real ssh-agent instead of
	// --identity.
	sock := startAgent(t, b.identity)
	for i := range 2 {
		start := time.Now()
		cmd := onCmd(t, b, dir, boardDir, "recipes/hello.yaml", "--fetch-outputs", "install/msg.txt")
		cmd.Env = append(cmd.Env, "GOPROXY="+proxy.URL)
		if i == 1 {
			cmd.Args = without(without(cmd.Args, "--identity"), b.identity)
			cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+sock)
		}
		r := runResult(t, cmd)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
		m := sentRE.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("run %d: no sources line:\n%s", i+1, r.stdout)
		}
		fmt.Sscan(m[1], &sent[i][0])
		fmt.Sscan(m[2], &sent[i][1])
		fmt.Sscan(m[3], &sent[i][2])
		t.Logf("run %d in %s: sent %d files, %d bytes; %d held", i+1, time.Since(start).Round(time.Millisecond), sent[i][0], sent[i][1], sent[i][2])
	}
	// The tarball, the module's zip and the git repository.
	if sent[0][0] != 3 || sent[0][1] <= len(tgz)+len(modZip) || sent[0][2] != 0 {
		t.Errorf("first run sent %v, want 3 files, more than %d bytes, none held", sent[0], len(tgz)+len(modZip))
	}
	if sent[1] != [3]int{0, 0, 3} {
		t.Errorf("second run sent %v, want 0 files, 0 bytes, 3 held", sent[1])
	}
	fetched := filepath.Join(dir, ".bootstrap", "boards", "hello-amd64@"+b.relay.addr())
	if got, _ := os.ReadFile(filepath.Join(fetched, "install", "msg.txt")); string(got) != "hello from the board\nfrom a module\nfrom git\n" {
		t.Errorf("fetched output %q, want the patched message, the module's and the repository's", got)
	}
	if _, err := os.Stat(filepath.Join(fetched, "provenance.json")); err != nil {
		t.Errorf("provenance not brought back: %v", err)
	}
	// One binary on the board, named by its digest.
	bins, _ := filepath.Glob(filepath.Join(boardDir, "bin", "*"))
	if len(bins) != 1 {
		t.Errorf("board binaries %v, want 1", bins)
	}

	// A changed host key is refused, naming the file and line.
	known, err := os.ReadFile(b.known)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	otherPub, _ := os.ReadFile(other + ".pub")
	f := strings.Fields(string(known))
	boardWriteFile(t, b.known, "# first line\n"+f[0]+" "+strings.Join(strings.Fields(string(otherPub))[:2], " ")+"\n")
	r = runResult(t, onCmd(t, b, dir, boardDir, "recipes/hello.yaml"))
	want := fmt.Sprintf("%s line 2", b.known)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "CHANGED") || !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("changed host key: exit %d, want a refusal naming %q:\n%s%s", r.code, want, r.stdout, r.stderr)
	}
}

// boardModuleZip builds a real module zip with x/mod and returns it with
// its h1.
func boardModuleZip(t *testing.T, mod, version string, files map[string]string) ([]byte, string) {
	t.Helper()
	tree := t.TempDir()
	for n, d := range files {
		boardWriteFile(t, filepath.Join(tree, n), d)
	}
	var buf bytes.Buffer
	if err := modzip.CreateFromDir(&buf, module.Version{Path: mod, Version: version}, tree); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "m.zip")
	boardWriteFile(t, p, buf.String())
	h1, err := dirhash.HashZip(p, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), h1
}

// startAgent starts ssh-agent with the private key in it and returns its
// socket.
func startAgent(t *testing.T, key string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for range 100 {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v %s", err, out)
	}
	return sock
}

// without is args without the given one.
func without(args []string, drop string) []string {
	var out []string
	for _, a := range args {
		if a != drop {
			out = append(out, a)
		}
	}
	return out
}

// TestBoardCancel interrupts `run --on` while a step runs a tree of
// processes on the board: the local command exits 130 (SIGINT) or 143
// (SIGTERM), and 5 s later no process of the run is left on the board,
// even when the step ignores SIGTERM and a child of it left its process
// group and session (setsid).
func TestBoardCancel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		code int
		// extra is shell run by the step before it waits.
		extra string
	}{
		{"SIGINT", syscall.SIGINT, 130, ""},
		{"SIGTERM stubborn", syscall.SIGTERM, 143, "trap '' TERM\n          setsid sleep %[1]s &\n          "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBoard(t)
			dir := t.TempDir()
			mark := fmt.Sprintf("%d", 700000+time.Now().UnixNano()%100000)
			boardWriteFile(t, filepath.Join(dir, "long.yaml"), fmt.Sprintf(`name: long
components:
  - name: long
    steps:
      - name: wait
        run: |
          `+tc.extra+`echo started
          sleep %[1]s &
          sh -c 'sleep %[1]s' &
          sleep %[1]s
`, mark))
			boardDir := filepath.Join(dir, "board")
			cmd := onCmd(t, b, dir, boardDir, "long.yaml", "--verbose")
			lines := start(t, cmd)
			lines.wait(t, 0, "long:wait | started", 60*time.Second)
			// The step's shell, sh -c and its sleeps.
			if n := len(markedProcs(mark)); n < 4 {
				t.Fatalf("%d processes of the step running, want the shell and its sleeps:\n%s", n, strings.Join(markedProcs(mark), "\n"))
			}
			sent := time.Now()
			cmd.Process.Signal(tc.sig)
			err := cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			t.Logf("local command exited %d after %s (%v)", code, time.Since(sent).Round(time.Millisecond), err)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, lines.text())
			}
			time.Sleep(time.Until(sent.Add(5 * time.Second)))
			if left := markedProcs(mark); len(left) > 0 {
				t.Errorf("5 s after the cancel, %d processes of the run are left on the board: %v", len(left), left)
			}
			if left := markedProcs(boardDir); len(left) > 0 {
				t.Errorf("5 s after the cancel, bootstrap processes of the board are left: %v", left)
			}
			ex, err := os.ReadFile(filepath.Join(boardDir, "runs", "long-amd64", "agent", "exit.json"))
			if err != nil || !strings.Contains(string(ex), `"canceled":true`) {
				t.Errorf("exit.json %s (%v), want a canceled run", ex, err)
			}
			if !strings.Contains(lines.text(), "canceled run") {
				t.Errorf("no cancel reported:\n%s", lines.text())
			}
		})
	}
}

// markedProcs lists the live processes whose command line contains mark.
func markedProcs(mark string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), mark) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue // a zombie is dead; only its parent's wait is missing
		}
		out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// TestBoardKilled SIGKILLs the board's run 20 times at random moments
// (through `run --on` each time) and checks after every kill that no
// checkpoint is wrong (crash_test.go's invariants); the next `run --on`
// finishes.
func TestBoardKilled(t *testing.T) {
	t.Parallel()
	b := startBoard(t)
	dir := t.TempDir()
	boardDir := filepath.Join(dir, "board")
	work := filepath.Join(boardDir, "runs", "crash-amd64", "work")
	// Steps see the work dir at the fixed path; the test reads the
	// journal where it really is.
	jpath := filepath.Join(work, "install", "journal")
	boardWriteFile(t, filepath.Join(dir, "crash.yaml"), crashRecipe("${{ work }}/install/journal"))
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))

	kills := 0
	for round := 1; kills < 20 && round <= 100; round++ {
		before := checkpoints(t, work)
		if len(before) == 9 {
			if err := os.RemoveAll(filepath.Join(work, "state")); err != nil {
				t.Fatal(err)
			}
			os.Remove(jpath)
			before = map[string]string{}
		}
		from := len(journal(t, jpath))
		cmd := onCmd(t, b, dir, boardDir, "crash.yaml")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill the board's `bootstrap run` once it exists, after a random
		// while.
		pid := waitBoardRun(t, boardDir, "crash-amd64", 30*time.Second)
		time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			kills++
		}
		cmd.Wait()
		if cmd.ProcessState.ExitCode() == 0 && !strings.Contains(out.String(), "exit 0") {
			t.Errorf("round %d: exit 0 without a finished run:\n%s", round, out.String())
		}
		checkRound(t, round, work, jpath, before, from)
	}
	if kills < 20 {
		t.Fatalf("only %d kills landed", kills)
	}
	before := checkpoints(t, work)
	from := len(journal(t, jpath))
	r := runResult(t, onCmd(t, b, dir, boardDir, "crash.yaml"))
	if r.code != 0 {
		t.Fatalf("final run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkRound(t, 0, work, jpath, before, from)
	got, _ := os.ReadFile(filepath.Join(work, "install", "out-c3-s3"))
	if want := "seed\nc1:s1\nc1:s2\nc1:s3\nc2:s1\nc2:s2\nc2:s3\nc3:s1\nc3:s2\nc3:s3\n"; string(got) != want {
		t.Errorf("final result %q, want %q", got, want)
	}
	t.Logf("%d kills", kills)
}

// waitBoardRun waits for a new `bootstrap run` under the board's
// supervisor of key and returns its PID.
func waitBoardRun(t *testing.T, boardDir, key string, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	runJSON := filepath.Join(boardDir, "runs", key, "agent", "run.json")
	old, _ := os.ReadFile(runJSON)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(runJSON)
		if err == nil && !bytes.Equal(data, old) {
			var info struct{ PID int }
			json.Unmarshal(data, &info)
			for _, c := range childrenOf(info.PID) {
				return c
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no run of %s started on the board within %s", key, d)
	return 0
}

// childrenOf lists pid's children from /proc.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		var ppid, p int
		fmt.Sscan(f[1], &ppid)
		if ppid == pid && f[0] != "Z" {
			fmt.Sscan(e.Name(), &p)
			out = append(out, p)
		}
	}
	return out
}

// statementWithoutTimes decodes a provenance envelope's statement and
// drops what differs between two equal runs: times, the invocation ID,
// and the board dir in paths.
func statementWithoutTimes(t *testing.T, path, boardDir string) string {
	t.Helper()
	payload := envelopePayload(t, path)
	var v any
	if err := json.Unmarshal(bytes.ReplaceAll(payload, []byte(boardDir), []byte("BOARD")), &v); err != nil {
		t.Fatal(err)
	}
	var strip func(any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if strings.HasSuffix(k, "On") || k == "invocationId" || strings.Contains(strings.ToLower(k), "duration") {
					delete(x, k)
					continue
				}
				strip(e)
			}
		case []any:
			for _, e := range x {
				strip(e)
			}
		}
	}
	strip(v)
	out, _ := json.MarshalIndent(v, "", " ")
	return string(out)
}

// TestBoardsInParallel runs one recipe on two boards at once (two sshds,
// each with a board dir of its own at the same path), one labelled with
// its target: every line says which board it comes from, both steps run
// at the same time, and each board's results come back apart.
func TestBoardsInParallel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	boardDir := filepath.Join(dir, "board")
	b1 := startBoard(t)
	b2 := startBoardOver(t, boardDir, filepath.Join(dir, "board2"))
	boardWriteFile(t, filepath.Join(dir, "two.yaml"), `name: two
components:
  - name: two
    steps:
      - name: build
        run: |
          sleep 2
          echo "built on $(hostname)" > ${{ work }}/install/built
`)
	cmd := onCmd(t, b1, dir, boardDir, "two.yaml", "--plain", "--fetch-outputs", "install/built")
	// The second board, labelled; one --identity logs in on both.
	cmd.Args = append(cmd.Args, "--on", "amd64="+b2.url())
	pub, _ := os.ReadFile(b1.identity + ".pub")
	boardWriteFile(t, filepath.Join(b2.dir, "authorized_keys"), string(pub))
	began := time.Now()
	r := runResult(t, cmd)
	took := time.Since(began)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	p1, p2 := "["+b1.relay.addr()+"] ", "[amd64 "+b2.relay.addr()+"] "
	var starts, dones []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		switch {
		case strings.HasPrefix(l, p1), strings.HasPrefix(l, p2):
		case strings.HasPrefix(l, b1.relay.addr()+":"), strings.HasPrefix(l, "amd64 "+b2.relay.addr()+":"):
			continue // the summary lines
		default:
			t.Errorf("line without a board prefix: %q", l)
		}
		if strings.Contains(l, "start two:build") {
			starts = append(starts, l)
		}
		if strings.Contains(l, "done  two:build") {
			dones = append(dones, l)
		}
	}
	if len(starts) != 2 || len(dones) != 2 || strings.Index(r.stdout, dones[0]) < strings.Index(r.stdout, starts[1]) {
		t.Errorf("want both steps started before either ended:\n%s", r.stdout)
	}
	for _, d := range []string{boardDir, filepath.Join(dir, "board2")} {
		if _, err := os.Stat(filepath.Join(d, "runs", "two-amd64", "work", "install", "built")); err != nil {
			t.Errorf("board dir %s: %v", d, err)
		}
	}
	for _, addr := range []string{b1.relay.addr(), b2.relay.addr()} {
		if _, err := os.Stat(filepath.Join(dir, ".bootstrap", "boards", "two-amd64@"+addr, "install", "built")); err != nil {
			t.Errorf("results of %s: %v", addr, err)
		}
	}
	t.Logf("two boards in %s", took.Round(time.Millisecond))
}

// TestOnUsage refuses --on with flags it cannot honour and bad addresses,
// with exit 2, before connecting anywhere.
func TestOnUsage(t *testing.T) {
	dir := t.TempDir()
	boardWriteFile(t, filepath.Join(dir, "r.yaml"), "name: r\ncomponents:\n  - name: a\n    steps:\n      - name: s\n        run: true\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--on", "ssh://u@127.0.0.1:9", "--target", "arm64"}, "--target"},
		{[]string{"--on", "ssh://u@127.0.0.1:9", "--emulate"}, "--emulate"},
		{[]string{"--on", "ssh://u@127.0.0.1:9", "--cache-from", "file:///tmp/c"}, "--cache-from"},
		{[]string{"--on", "ftp://u@127.0.0.1"}, "want ssh://"},
		{[]string{"--on", "vax=ssh://u@127.0.0.1"}, `unknown target "vax"`},
		{[]string{"--accept-new"}, "add --on"},
	} {
		r := bs(t, dir, append([]string{"run", "r.yaml"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tc.args, r.code, tc.want, r.stderr)
		}
	}
}
