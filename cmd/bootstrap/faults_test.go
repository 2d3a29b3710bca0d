package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fault tests run the real binary against things going wrong: a
// loopback server that misbehaves on purpose, cache entries damaged on
// disk, two runs filling one cache. diskfull_test.go fills the disk.

// sourceTar returns a tar archive (gzip'd when gz) of pkg-1.0/hello.txt
// and pkg-1.0/data.bin, the latter n incompressible bytes.
func sourceTar(t *testing.T, gz bool, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	tw := tar.NewWriter(w)
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	}
	data := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(data)
	for _, f := range []struct {
		name string
		body []byte
	}{{"pkg-1.0/hello.txt", []byte("hello from the source\n")}, {"pkg-1.0/data.bin", data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// urlRecipe writes faults.yaml into dir: one component whose source is
// the file at url and whose step copies hello.txt out of it.
func urlRecipe(t *testing.T, dir, url, sum string) {
	t.Helper()
	writeFaultsRecipe(t, dir, fmt.Sprintf(urlComponent, url, sum))
}

// urlComponent is the faults recipe's url component: url, sha256.
const urlComponent = `name: faults
components:
  - name: pkg
    source:
      url: %s
      sha256: %s
      strip: 1
    steps:
      - name: build
        run: cp ${{ src }}/hello.txt ${{ build }}/out.txt
`

// writeFaultsRecipe writes faults.yaml into dir.
func writeFaultsRecipe(t *testing.T, dir, recipe string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "faults.yaml"), []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
}

// flaky is a loopback server for one file whose answers follow a script,
// one behaviour per request; after the script it serves the file (with
// Range support).
type flaky struct {
	*httptest.Server
	data   []byte
	mu     sync.Mutex
	script []string
	reqs   []string // "GET" or "GET range=..." per request
	// gate, when set, runs before a request is served.
	gate func()
}

func newFlaky(t *testing.T, data []byte, script ...string) *flaky {
	f := &flaky{data: data, script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *flaky) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, strings.TrimSpace("GET "+r.Header.Get("Range")))
	what := "ok"
	if k := len(f.script); k >= 2 && f.script[k-1] == "forever" && n >= k-2 {
		what = f.script[k-2] // the last behaviour, for every request from now on
	} else if n < k {
		what = f.script[n]
	}
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		gate()
	}
	half := f.data[:len(f.data)/2]
	switch what {
	case "reset": // the connection drops mid-body
		w.Header().Set("Content-Length", fmt.Sprint(len(f.data)))
		w.Write(half)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case "stall": // half the body, then nothing for longer than the stall timeout
		w.Header().Set("Content-Length", fmt.Sprint(len(f.data)))
		w.Write(half)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		panic(http.ErrAbortHandler)
	case "500":
		http.Error(w, "oops", http.StatusInternalServerError)
	case "503":
		http.Error(w, "busy", http.StatusServiceUnavailable)
	case "extra": // the file and then more
		w.Write(append(append([]byte(nil), f.data...), "trailing junk"...))
	case "slow": // the whole file in 20 pieces over a second
		w.Header().Set("Content-Length", fmt.Sprint(len(f.data)))
		for i := 0; i < 20; i++ {
			w.Write(f.data[i*len(f.data)/20 : (i+1)*len(f.data)/20])
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	default:
		http.ServeContent(w, r, "pkg.tar.gz", time.Time{}, bytes.NewReader(f.data))
	}
}

func (f *flaky) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

// fastRetry makes retries quick and a stall short, as a porter can (a
// second: long enough that a loaded machine does not stall by itself).
var fastRetry = []string{"--stall-timeout", "1s", "--retry-wait", "10ms"}

// TestFlakyServer: each misbehaviour ends in a verified file or a clear
// error, after a bounded number of requests.
func TestFlakyServer(t *testing.T) {
	data := sourceTar(t, true, 256<<10)
	cases := []struct {
		name   string
		script []string
		args   []string
		// ok: the run succeeds; else errs are in its stderr.
		ok   bool
		errs []string
		// reqs is the number of requests the server must see; ranged
		// is whether the last one asked for a range (resumed).
		reqs   int
		ranged bool
		log    string
	}{
		{name: "reset mid-body, then resumed", script: []string{"reset"}, ok: true, reqs: 2, ranged: true, log: "resuming at byte"},
		{name: "stall, then resumed", script: []string{"stall"}, ok: true, reqs: 2, ranged: true, log: "no data for 1s"},
		{name: "500 and 503, then served", script: []string{"500", "503"}, ok: true, reqs: 3, log: "HTTP Service Unavailable; retrying"},
		{name: "503 for ever, bounded", script: []string{"503", "forever"}, args: []string{"--retries", "2"}, reqs: 3,
			errs: []string{"step pkg:fetch failed", "HTTP Service Unavailable"}},
		{name: "stall for ever, bounded", script: []string{"stall", "forever"}, args: []string{"--retries", "1"}, reqs: 2,
			errs: []string{"step pkg:fetch failed", "no data for 1s"}},
		{name: "more bytes than the file", script: []string{"extra"}, reqs: 1,
			errs: []string{"step pkg:fetch failed", "sha256 mismatch", "expected " + sha(data), "got " + sha(append(append([]byte(nil), data...), "trailing junk"...))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newFlaky(t, data, c.script...)
			dir := t.TempDir()
			cache := filepath.Join(dir, "cache")
			urlRecipe(t, dir, srv.URL+"/pkg.tar.gz", sha(data))
			r := bs(t, dir, append(append([]string{"run", "--cache", cache}, append(fastRetry, c.args...)...), "faults.yaml")...)
			reqs := srv.requests()
			if len(reqs) != c.reqs {
				t.Errorf("server saw %d requests %q, want %d", len(reqs), reqs, c.reqs)
			}
			if c.ranged && (len(reqs) == 0 || !strings.HasPrefix(reqs[len(reqs)-1], "GET bytes=")) {
				t.Errorf("the last request %q did not resume", reqs)
			}
			log := readLog(dir, "pkg/fetch")
			if c.log != "" && !strings.Contains(log, c.log) {
				t.Errorf("fetch log lacks %q:\n%s", c.log, log)
			}
			entry := filepath.Join(cache, "sha256", sha(data))
			if c.ok {
				if r.code != 0 {
					t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				if got, err := os.ReadFile(entry); err != nil || sha(got) != sha(data) {
					t.Errorf("cache entry %s is not the verified file (%v)", entry, err)
				}
				return
			}
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, e := range c.errs {
				if !strings.Contains(r.stderr, e) {
					t.Errorf("stderr lacks %q:\n%s", e, r.stderr)
				}
			}
			if _, err := os.Stat(entry); err == nil {
				t.Errorf("a failed download left a cache entry %s", entry)
			}
		})
	}
}

// readLog returns a step's log in the work dir of faults.yaml under dir.
func readLog(dir, step string) string {
	data, _ := os.ReadFile(filepath.Join(hostWork(dir, "faults"), "logs", step+".log"))
	return string(data)
}

// corruption damages a cached file in place.
type corruption struct {
	name  string
	gz    bool
	apply func(data []byte) []byte
}

var corruptions = []corruption{
	{"flipped data byte", true, func(d []byte) []byte { d[len(d)/2] ^= 0x10; return d }},
	// Byte 20 is in the first member's name: the header checksum no
	// longer matches and archive/tar says "invalid tar header".
	{"flipped tar header byte", false, func(d []byte) []byte { d[20] ^= 0x01; return d }},
	{"truncated", true, func(d []byte) []byte { return d[:len(d)/3] }},
}

// TestCorruptCache damages the cached tarball after a first run and
// reruns the patch step: the damage is found on use and the file fetched
// again in the same run; offline, the error names the path and both
// hashes, and the damaged entry is gone for the next run.
func TestCorruptCache(t *testing.T) {
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			data := sourceTar(t, c.gz, 64<<10)
			srv := newFlaky(t, data)
			dir := t.TempDir()
			cache := filepath.Join(dir, "cache")
			urlRecipe(t, dir, srv.URL+"/pkg.tar.gz", sha(data))
			run := func(args ...string) result {
				return bs(t, dir, append(append([]string{"run", "--cache", cache}, args...), "faults.yaml")...)
			}
			if r := run(); r.code != 0 {
				t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
			}
			entry := filepath.Join(cache, "sha256", sha(data))
			damage := func() string {
				d, err := os.ReadFile(entry)
				if err != nil {
					t.Fatal(err)
				}
				d = c.apply(d)
				if err := os.WriteFile(entry, d, 0o644); err != nil {
					t.Fatal(err)
				}
				return sha(d)
			}

			damage()
			r := run("--force", "pkg:patch")
			if r.code != 0 {
				t.Fatalf("online rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			log := readLog(dir, "pkg/patch")
			for _, want := range []string{"is damaged", "fetching it again", "fetched from " + srv.URL} {
				if !strings.Contains(log, want) {
					t.Errorf("patch log lacks %q:\n%s", want, log)
				}
			}
			if got, _ := os.ReadFile(entry); sha(got) != sha(data) {
				t.Errorf("the cache entry was not replaced by a verified copy")
			}
			if n := len(srv.requests()); n != 2 {
				t.Errorf("server saw %d requests, want 2 (first run, re-fetch)", n)
			}

			bad := damage()
			r = run("--offline", "--force", "pkg:patch")
			if r.code != 1 {
				t.Fatalf("offline rerun: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{"step pkg:patch failed", entry, "is damaged", "sha256 " + bad, "expected " + sha(data), "removed it", "not available offline"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("offline stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if _, err := os.Stat(entry); err == nil {
				t.Errorf("the damaged entry %s is still in the cache", entry)
			}
			if r := run(); r.code != 0 {
				t.Errorf("online run after the offline one: exit %d\n%s", r.code, r.stderr)
			}
		})
	}
}
