package remote

import (
	"bytes"
	"context"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// TestParseOn reads --on values: a bare address, one labelled with a
// target, the defaults, and what is refused.
func TestParseOn(t *testing.T) {
	for _, tc := range []struct {
		in, label, user, host string
		port                  int
		err                   string
	}{
		{in: "ssh://pi@board", user: "pi", host: "board", port: 22},
		{in: "ssh://pi@board:2222", user: "pi", host: "board", port: 2222},
		{in: "ppc64le=ssh://u@10.0.0.7", label: "ppc64le", user: "u", host: "10.0.0.7", port: 22},
		{in: "armhf=ssh://u@[fe80::1]:22", label: "armhf", user: "u", host: "fe80::1", port: 22},
		{in: "ssh://u@board/path", err: "want ssh://"},
		{in: "http://u@board", err: "want ssh://"},
		{in: "sparc=ssh://u@board", err: `unknown target "sparc"`},
		{in: "ssh://u@board:99999", err: "bad port"},
	} {
		spec, err := ParseOn(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if spec.Label != tc.label || spec.Addr.User != tc.user || spec.Addr.Host != tc.host || spec.Addr.Port != tc.port {
			t.Errorf("%s: got %+v", tc.in, spec)
		}
	}
}

// TestShellQuote passes awkward words through a real shell.
func TestShellQuote(t *testing.T) {
	words := []string{"plain", "with space", "it's", `"$HOME"`, "a;b", "", "`x`", "~/x", "-x", "a\nb"}
	var quoted []string
	var want strings.Builder
	for _, w := range words {
		quoted = append(quoted, shellQuote(w))
		want.WriteString("[" + w + "]\n")
	}
	out, err := exec.Command("sh", "-c", `set -- `+strings.Join(quoted, " ")+`; for a in "$@"; do printf '[%s]\n' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want.String() {
		t.Errorf("quoted words came out as\n%s\nwant\n%s", out, want.String())
	}
}

// TestLineWriter interleaves two boards' writes by whole lines only.
func TestLineWriter(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	a := &lineWriter{mu: &mu, out: &out, prefix: "[a] "}
	b := &lineWriter{mu: &mu, out: &out, prefix: "[b] "}
	a.Write([]byte("one "))
	b.Write([]byte("x\ny"))
	a.Write([]byte("two\nthree\n"))
	b.Flush()
	want := "[b] x\n[a] one two\n[a] three\n[b] y\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestBinariesFromDist picks `make dist`'s file for the board's
// architecture (armhf is armv7), and says what it tried when there is
// none and no source to build from.
func TestBinariesFromDist(t *testing.T) {
	dist := t.TempDir()
	for _, n := range []string{"bootstrap-linux-armv7", "bootstrap-linux-ppc64le"} {
		if err := os.WriteFile(filepath.Join(dist, n), []byte(n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := Binaries{DistDir: dist, Self: "/nonexistent", SourceDir: "", BuildDir: t.TempDir()}
	t.Chdir(t.TempDir()) // no bootstrap source above: nothing to build from
	for _, name := range []string{"armhf", "ppc64le"} {
		tg, _ := arch.Lookup(name)
		p, sum, err := b.For(context.Background(), tg, os.Stderr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, _ := treehash.FileSHA256(p)
		if !strings.HasPrefix(filepath.Base(p), "bootstrap-linux-") || sum != want {
			t.Errorf("%s: %s %s", name, p, sum)
		}
	}
	tg, _ := arch.Lookup("riscv64")
	_, _, err := b.For(context.Background(), tg, os.Stderr)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dist, "bootstrap-linux-riscv64")) || !strings.Contains(err.Error(), "make dist") {
		t.Errorf("no riscv64 binary: error %v, want one naming what was tried", err)
	}
}

// TestBinariesCrossCompile builds the board's binary from this source
// tree when there is no dist file and this executable does not fit: the
// result is static and runs. (amd64, which this machine runs; another
// GOARCH is the same command with a colder build cache.)
func TestBinariesCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bootstrap")
	}
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b := Binaries{DistDir: t.TempDir(), Self: "/nonexistent", SourceDir: src, BuildDir: t.TempDir()}
	tg, _ := arch.Lookup("amd64")
	var log bytes.Buffer
	p, sum, err := b.For(context.Background(), tg, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "cross-compiling bootstrap for amd64") || !static(p) {
		t.Errorf("%s: static %v, log %q", p, static(p), log.String())
	}
	if want, _ := treehash.FileSHA256(p); sum != want {
		t.Errorf("sha256 %s, want %s", sum, want)
	}
	if out, err := exec.Command(p, "--version").CombinedOutput(); err != nil || !strings.Contains(string(out), "bootstrap") {
		t.Errorf("%s --version: %v %s", p, err, out)
	}
}
