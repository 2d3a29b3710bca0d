// Package gittest serves Git repositories over smart HTTP on a loopback
// address, through git's own `git http-backend` behind net/http/cgi: a real
// server for the tests and the benchmark of runner/gitsrc. It can speak
// protocol v2 or only v0, and allow or refuse wants of bare commit hashes,
// which are the server behaviours a pinned fetch has to cope with.
package gittest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Options say how the server behaves.
type Options struct {
	// Root is the directory whose repositories are served: the URL
	// http://ADDR/NAME serves Root/NAME.
	Root string
	// V0Only ignores the client's Git-Protocol header, so the server speaks
	// protocol v0, where wants of unadvertised commits obey SHAWants.
	// (Protocol v2's upload-pack accepts a want of any object it has.)
	V0Only bool
	// SHAWants sets uploadpack.allowReachableSHA1InWant and
	// allowAnySHA1InWant: with V0Only and SHAWants false, a want of a
	// commit that is no ref's tip is refused.
	SHAWants bool
	// Slow, when set, is a pause before each write of a pack (a POST's
	// response), so that a test can stop a client in the middle.
	Slow time.Duration
}

// Server is a running smart-HTTP Git server.
type Server struct {
	// URL is the server's base URL, without a trailing slash.
	URL   string
	srv   *http.Server
	ln    net.Listener
	sent  atomic.Int64
	posts atomic.Int64
}

// Start serves opts.Root on 127.0.0.1 until Close.
func Start(opts Options) (*Server, error) {
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("gittest: git --exec-path: %w", err)
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("gittest: %w", err)
	}
	allow := "false"
	if opts.SHAWants {
		allow = "true"
	}
	h := &cgi.Handler{
		Path: strings.TrimSpace(string(backend)) + "/git-http-backend",
		// A client that hangs up (or is killed) midway is expected.
		Logger: log.New(io.Discard, "", 0),
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=uploadpack.allowReachableSHA1InWant", "GIT_CONFIG_VALUE_0=" + allow,
			"GIT_CONFIG_KEY_1=uploadpack.allowAnySHA1InWant", "GIT_CONFIG_VALUE_1=" + allow,
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gittest: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.V0Only {
			r.Header.Del("Git-Protocol")
		}
		if r.Method == http.MethodPost {
			s.posts.Add(1)
		}
		c := &counter{ResponseWriter: w, n: &s.sent}
		if r.Method == http.MethodPost {
			c.slow = opts.Slow
		}
		h.ServeHTTP(c, r)
	})}
	go s.srv.Serve(ln)
	return s, nil
}

// BytesSent is how many response bytes the server has sent so far.
func (s *Server) BytesSent() int64 { return s.sent.Load() }

// Posts is how many POST requests (negotiations and pack requests) the
// server has answered so far.
func (s *Server) Posts() int64 { return s.posts.Load() }

// Close stops the server and waits for the requests in flight.
func (s *Server) Close() error {
	err := s.srv.Shutdown(context.Background())
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// counter counts the bytes written through a ResponseWriter.
type counter struct {
	http.ResponseWriter
	n    *atomic.Int64
	slow time.Duration
}

func (c *counter) Write(b []byte) (int, error) {
	if c.slow > 0 {
		time.Sleep(c.slow)
		c.Flush()
	}
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// Flush passes flushes on, so that a pack streams as it is made.
func (c *counter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
