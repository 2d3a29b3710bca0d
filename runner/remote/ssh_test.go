package remote

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDialHandshakeDeadline dials a server that accepts TCP connections
// and never speaks SSH: Dial gives up at the handshake deadline instead
// of hanging.
func TestDialHandshakeDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent
		}
	}()
	key := filepath.Join(t.TempDir(), "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen: %v %s", err, out)
	}
	addr, err := ParseAddress("ssh://u@" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Dial(context.Background(), addr, DialOptions{Identity: key, HandshakeTimeout: time.Second, KnownHosts: filepath.Join(t.TempDir(), "kh")})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Errorf("error %v, want a handshake failure", err)
	}
	if took < time.Second || took > 3*time.Second {
		t.Errorf("gave up after %s, want about the 1 s deadline", took)
	}
}
