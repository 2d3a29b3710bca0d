package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sshBoard is a real OpenSSH server started by a test in a network
// namespace of its own, reached through a TCP relay in the test that can
// cut the link: the board on the desk, on this machine.
type sshBoard struct {
	dir      string // the test's temp dir: keys, config, known_hosts
	identity string // the client's private key
	known    string // known_hosts file
	relay    *relay
	sshd     *exec.Cmd
	ns       string // /proc/PID/ns/net of sshd
}

// startBoard starts sshd in a new network namespace and the relay to it.
// It skips the test where that cannot be done (not root, no sshd).
func startBoard(t *testing.T) *sshBoard { t.Helper(); return startBoardOver(t, "", "") }

// startBoardOver is startBoard with sshd in a mount namespace of its own
// too, where the directory over is mounted on path: two boards on this
// machine then have a board dir each at the same path.
func startBoardOver(t *testing.T, path, over string) *sshBoard {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("sshd in a network namespace needs root")
	}
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Skip("no OpenSSH server (scripts/deps.sh installs openssh-server)")
	}
	dir := t.TempDir()
	b := &sshBoard{dir: dir, identity: filepath.Join(dir, "id"), known: filepath.Join(dir, "known_hosts")}
	for _, k := range []string{filepath.Join(dir, "hostkey"), b.identity} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	pub, err := os.ReadFile(b.identity + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	boardWriteFile(t, filepath.Join(dir, "authorized_keys"), string(pub))
	boardWriteFile(t, filepath.Join(dir, "sshd_config"), fmt.Sprintf(`ListenAddress 127.0.0.1:22
HostKey %[1]s/hostkey
AuthorizedKeysFile %[1]s/authorized_keys
PidFile none
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 50
MaxStartups 50
`, dir))
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--net", "sh", "-c", `ip link set lo up && exec "$0" -D -e -f "$1"`, sshd, filepath.Join(dir, "sshd_config"))
	if path != "" {
		for _, d := range []string{path, over} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd = exec.Command("unshare", "--net", "--mount", "sh", "-c", `mount --bind "$2" "$3" && ip link set lo up && exec "$0" -D -e -f "$1"`,
			sshd, filepath.Join(dir, "sshd_config"), over, path)
	}
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b.sshd = cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	ns := fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := dialIn(ns, "127.0.0.1:22")
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.ns = ns
	b.relay = b.newRelay(t)
	return b
}

// newRelay is another relay to the board, cut independently.
func (b *sshBoard) newRelay(t *testing.T) *relay {
	return newRelay(t, func() (net.Conn, error) { return dialIn(b.ns, "127.0.0.1:22") })
}

// url is the board's ssh:// address, through the relay.
func (b *sshBoard) url() string { return "ssh://root@" + b.relay.addr() }

// flags are the SSH flags of a run on this board.
func (b *sshBoard) flags() []string {
	return []string{"--identity", b.identity, "--known-hosts", b.known, "--accept-new"}
}

// dialIn connects to addr from inside the network namespace ns. The
// goroutine's thread enters the namespace and is never unlocked, so the
// runtime ends the thread with it instead of reusing it elsewhere.
func dialIn(ns, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(ns)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// relay forwards loopback TCP connections to the board. Cut makes the
// link silent: the connections open stop carrying anything (what is sent
// is dropped, as on a pulled cable) and new ones are refused; Restore
// closes the silenced ones and lets new ones through.
type relay struct {
	ln   net.Listener
	dial func() (net.Conn, error)
	// rate limits each direction of each connection to rate bytes/s
	// (0: no limit), a slow link.
	rate atomic.Int64

	mu     sync.Mutex
	cut    bool
	pairs  map[*pair]bool
	closed bool
}

// pair is one relayed connection.
type pair struct {
	a, b   net.Conn
	silent chan struct{}
	rate   *atomic.Int64
}

func newRelay(t *testing.T, dial func() (net.Conn, error)) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, dial: dial, pairs: map[*pair]bool{}}
	go r.serve()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	for {
		a, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		cut := r.cut
		r.mu.Unlock()
		if cut {
			a.Close()
			continue
		}
		b, err := r.dial()
		if err != nil {
			a.Close()
			continue
		}
		p := &pair{a: a, b: b, silent: make(chan struct{}), rate: &r.rate}
		r.mu.Lock()
		r.pairs[p] = true
		r.mu.Unlock()
		go p.pipe(a, b)
		go p.pipe(b, a)
	}
}

// pipe copies src to dst until either closes; once the pair is silent it
// reads and drops.
func (p *pair) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-p.silent:
			default:
				if _, werr := dst.Write(buf[:n]); werr != nil {
					src.Close()
					return
				}
				if rate := p.rate.Load(); rate > 0 {
					time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
				}
			}
		}
		if err != nil {
			select {
			case <-p.silent:
				// A silent link does not pass on the close either.
			default:
				dst.Close()
			}
			return
		}
	}
}

// Cut silences every open connection and refuses new ones.
func (r *relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	for p := range r.pairs {
		close(p.silent)
	}
}

// Restore drops the silenced connections and lets new ones through.
func (r *relay) Restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = false
	for p := range r.pairs {
		p.a.Close()
		p.b.Close()
		delete(r.pairs, p)
	}
}

func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.pairs {
		p.a.Close()
		p.b.Close()
	}
}

// boardWriteFile writes a test file.
func boardWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// timedLines collects the lines a process writes, with when each came.
type timedLines struct {
	mu    sync.Mutex
	lines []timedLine
	added chan struct{}
}

type timedLine struct {
	at   time.Time
	text string
}

// collect reads r line by line until EOF.
func collect(r io.Reader) *timedLines {
	tl := &timedLines{added: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			tl.mu.Lock()
			tl.lines = append(tl.lines, timedLine{time.Now(), sc.Text()})
			tl.mu.Unlock()
			select {
			case tl.added <- struct{}{}:
			default:
			}
		}
	}()
	return tl
}

// wait returns the first line from index from on containing s, and its
// index, or fails the test after d.
func (tl *timedLines) wait(t *testing.T, from int, s string, d time.Duration) (timedLine, int) {
	t.Helper()
	deadline := time.After(d)
	for {
		tl.mu.Lock()
		for i := from; i < len(tl.lines); i++ {
			if strings.Contains(tl.lines[i].text, s) {
				l := tl.lines[i]
				tl.mu.Unlock()
				return l, i
			}
		}
		tl.mu.Unlock()
		select {
		case <-tl.added:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no line with %q within %s; output:\n%s", s, d, tl.text())
		}
	}
}

// text is every line so far.
func (tl *timedLines) text() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var b strings.Builder
	for _, l := range tl.lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}
