// Package remote runs a recipe on a board over SSH: the workstation side
// (Fleet, Board) dials the board with golang.org/x/crypto/ssh, ships the
// static bootstrap binary of the board's architecture, the recipe, its
// patches and the cached sources the selected steps need (url and gomod
// files by sha256, git repositories by commit), starts the run
// detached on the board and streams its log back, reattaching after a
// dropped link. The board side (Agent) is the same bootstrap binary,
// driven through the hidden `bootstrap board` commands: it starts the run
// under a supervisor of its own, so that a cancel reaches every process
// the run started without relying on SSH signals (OpenSSH before 7.9
// ignores them).
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Defaults of DialOptions. A cut link is declared dead after
// KeepaliveMisses unanswered keepalives KeepaliveInterval apart: at most
// about 20 s, well inside the 45 s the porter may wait. x/crypto/ssh sends
// no keepalives of its own (golang/go#19338) and TCP's take hours.
const (
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultDialTimeout       = 5 * time.Second
	DefaultKeepaliveInterval = 5 * time.Second
	DefaultKeepaliveMisses   = 3
)

// DialOptions say how to reach and trust a board.
type DialOptions struct {
	// KnownHosts is the known_hosts file; empty means ~/.ssh/known_hosts.
	KnownHosts string
	// AcceptNew appends an unknown host's key to KnownHosts (OpenSSH's
	// StrictHostKeyChecking=accept-new); a changed key is refused anyway.
	AcceptNew bool
	// Identity is a private key file; empty means the keys of the agent
	// at $SSH_AUTH_SOCK.
	Identity string
	// HandshakeTimeout bounds the TCP connect and SSH handshake together.
	HandshakeTimeout time.Duration
	// KeepaliveInterval and KeepaliveMisses: see the package constants.
	KeepaliveInterval time.Duration
	KeepaliveMisses   int
	// Getenv reads the environment (SSH_AUTH_SOCK, HOME); nil means
	// os.Getenv.
	Getenv func(string) string
}

func (o DialOptions) withDefaults() DialOptions {
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.KeepaliveInterval <= 0 {
		o.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if o.KeepaliveMisses <= 0 {
		o.KeepaliveMisses = DefaultKeepaliveMisses
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	return o
}

// Address is a parsed ssh://USER@HOST[:PORT] board address.
type Address struct {
	User, Host string
	Port       int
}

// ParseAddress parses ssh://[USER@]HOST[:PORT]; the user defaults to the
// local user and the port to 22.
func ParseAddress(s string) (Address, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "ssh" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return Address{}, fmt.Errorf("board address %q: want ssh://USER@HOST[:PORT]", s)
	}
	a := Address{User: u.User.Username(), Host: u.Hostname(), Port: 22}
	if p := u.Port(); p != "" {
		if a.Port, err = strconv.Atoi(p); err != nil || a.Port <= 0 || a.Port > 65535 {
			return Address{}, fmt.Errorf("board address %q: bad port %q", s, p)
		}
	}
	if a.User == "" {
		cur, err := user.Current()
		if err != nil {
			return Address{}, fmt.Errorf("board address %q names no user and the local one is unknown: %w", s, err)
		}
		a.User = cur.Username
	}
	return a, nil
}

// HostPort is host:port for net.Dial.
func (a Address) HostPort() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// String is the address as written: ssh://user@host[:port].
func (a Address) String() string {
	if a.Port == 22 {
		return "ssh://" + a.User + "@" + a.Host
	}
	return "ssh://" + a.User + "@" + a.HostPort()
}

// Client is an SSH connection to a board that watches its own health: a
// goroutine sends keepalive@openssh.com requests and closes the
// connection once KeepaliveMisses in a row go unanswered, so that every
// session on a silently cut link fails instead of hanging.
type Client struct {
	*ssh.Client
	// Addr is the board's address.
	Addr Address
	done chan struct{}
	once sync.Once
	dead chan struct{}
	// deadAt is when the keepalives declared the link dead (zero if not).
	mu     sync.Mutex
	deadAt time.Time
	conn   *activityConn
}

// activityConn notes when bytes last came from the board: a keepalive
// reply stuck behind a big upload on a slow link (our request waits in
// the send buffer) is no sign of a dead link while the board's window
// adjustments keep arriving.
type activityConn struct {
	net.Conn
	lastRead atomic.Int64 // unix nanoseconds
}

func (a *activityConn) Read(p []byte) (int, error) {
	n, err := a.Conn.Read(p)
	if n > 0 {
		a.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// heardSince reports whether bytes came from the board after t.
func (a *activityConn) heardSince(t time.Time) bool { return a.lastRead.Load() > t.UnixNano() }

// Dial connects to the board, checking its host key against known_hosts
// and authenticating with the identity file or the agent's keys. The TCP
// connect and the handshake share one deadline, so a board that accepts
// connections and then says nothing cannot hang the caller.
func Dial(ctx context.Context, addr Address, o DialOptions) (*Client, error) {
	o = o.withDefaults()
	hostKeys, err := hostKeyCallback(o)
	if err != nil {
		return nil, err
	}
	auth, closeAuth, err := authMethods(o)
	if err != nil {
		return nil, err
	}
	defer closeAuth()
	deadline := time.Now().Add(o.HandshakeTimeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := (&net.Dialer{Timeout: DefaultDialTimeout}).DialContext(dctx, "tcp", addr.HostPort())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	cfg := &ssh.ClientConfig{User: addr.User, Auth: auth, HostKeyCallback: hostKeys, Timeout: o.HandshakeTimeout}
	ac := &activityConn{Conn: conn}
	c, chans, reqs, err := ssh.NewClientConn(ac, addr.HostPort(), cfg)
	stop()
	if err != nil {
		conn.Close()
		var ke *hostKeyError
		if errors.As(err, &ke) {
			return nil, ke
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	cl := &Client{Client: ssh.NewClient(c, chans, reqs), Addr: addr, done: make(chan struct{}), dead: make(chan struct{}), conn: ac}
	go cl.keepalive(o.KeepaliveInterval, o.KeepaliveMisses)
	go func() {
		// Wait returns when the connection ends for any reason.
		_ = cl.Client.Wait()
		cl.once.Do(func() { close(cl.done) })
	}()
	return cl, nil
}

// keepalive sends a keepalive@openssh.com request every interval; OpenSSH
// answers it (with a failure, which is an answer). After misses
// intervals in a row with a request unanswered and nothing else heard
// from the board, the connection is closed.
func (c *Client) keepalive(interval time.Duration, misses int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	missed := 0
	replies := make(chan error, 1)
	inflight := false
	lastTick := time.Now()
	for {
		select {
		case <-c.done:
			return
		case err := <-replies:
			inflight = false
			if err == nil {
				missed = 0
			}
		case now := <-t.C:
			heard := c.conn.heardSince(lastTick)
			lastTick = now
			if inflight {
				if heard {
					missed = 0
					continue
				}
				missed++
				if missed >= misses {
					c.mu.Lock()
					c.deadAt = time.Now()
					c.mu.Unlock()
					close(c.dead)
					c.Client.Close()
					return
				}
				continue
			}
			inflight = true
			go func() {
				_, _, err := c.Client.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}
}

// Dead is closed when the keepalives declared the link dead.
func (c *Client) Dead() <-chan struct{} { return c.dead }

// DeadAt is when the keepalives declared the link dead, zero if they did
// not.
func (c *Client) DeadAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadAt
}

// gone reports whether the connection has ended (closed by either side,
// or by the keepalives), waiting a moment: a session's error can come
// just before the connection's.
func (c *Client) gone() bool {
	select {
	case <-c.done:
		return true
	case <-time.After(200 * time.Millisecond):
		return false
	}
}

// Close closes the connection and stops the keepalives.
func (c *Client) Close() error {
	err := c.Client.Close()
	c.once.Do(func() { close(c.done) })
	return err
}

// Command runs a shell command on the board with the given stdin and
// stdout (either may be nil) and returns its error; the board's stderr is
// appended to the error. A context cancel closes the session.
func (c *Client) Command(ctx context.Context, cmd string, stdin io.Reader, stdout io.Writer) error {
	s, err := c.NewSession()
	if err != nil {
		return fmt.Errorf("%s: new session: %w", c.Addr, err)
	}
	defer s.Close()
	var stderr strings.Builder
	var mu sync.Mutex // stderr is written by the session's goroutines
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, &limitWriter{w: &stderr, n: 8 << 10, mu: &mu}
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// OpenSSH answers a channel close only once the command has
		// ended: do not wait for that. The caller closes the client.
		s.Close()
		return ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return fmt.Errorf("%s: %s: %w: %s", c.Addr, firstWord(cmd), err, msg)
		}
		return fmt.Errorf("%s: %s: %w", c.Addr, firstWord(cmd), err)
	}
	return nil
}

// Output runs cmd and returns its standard output.
func (c *Client) Output(ctx context.Context, cmd string) ([]byte, error) {
	var b strings.Builder
	err := c.Command(ctx, cmd, nil, &b)
	return []byte(b.String()), err
}

// firstWord names a command in errors without its arguments.
func firstWord(cmd string) string {
	f := strings.Fields(cmd)
	switch {
	case len(f) >= 3 && f[1] == "board":
		return "board " + f[2]
	case len(f) > 0:
		return f[0]
	}
	return cmd
}

// limitWriter keeps the first n bytes written to it.
type limitWriter struct {
	w  io.Writer
	n  int
	mu *sync.Mutex
}

func (l *limitWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		_, _ = l.w.Write(q)
	}
	return len(p), nil
}

// authMethods are the identity file's key, or the agent's keys. The
// returned func closes the agent connection.
func authMethods(o DialOptions) ([]ssh.AuthMethod, func(), error) {
	if o.Identity != "" {
		pem, err := os.ReadFile(o.Identity)
		if err != nil {
			return nil, nil, fmt.Errorf("identity: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			return nil, nil, fmt.Errorf("identity %s: %w (a key with a passphrase must be loaded into ssh-agent instead)", o.Identity, err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, func() {}, nil
	}
	sock := o.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, errors.New("no SSH key: SSH_AUTH_SOCK is not set (start ssh-agent and ssh-add a key) and no --identity was given")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh agent at %s: %w", sock, err)
	}
	ag := agent.NewClient(conn)
	return []ssh.AuthMethod{ssh.PublicKeysCallback(ag.Signers)}, func() { conn.Close() }, nil
}

// homeDir is $HOME, else the user database's.
func homeDir(getenv func(string) string) string {
	if h := getenv("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return "/"
}

// knownHostsPath is o.KnownHosts or ~/.ssh/known_hosts.
func knownHostsPath(o DialOptions) string {
	if o.KnownHosts != "" {
		return o.KnownHosts
	}
	return filepath.Join(homeDir(o.Getenv), ".ssh", "known_hosts")
}
