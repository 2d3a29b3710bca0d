package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// server is a loopback HTTP server that serves files by path and records
// every request it gets.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	reqs  []*http.Request
	// cutAfter, when > 0, makes the first request for a file stop after
	// that many bytes by dropping the connection.
	cutAfter int
	// ignoreRange makes the server always send the whole file.
	ignoreRange bool
}

func newServer(t *testing.T, files map[string][]byte) *server {
	s := &server{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Clone(context.Background()))
	first := len(s.reqs) == 1
	s.mu.Unlock()
	data, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.cutAfter > 0 && first {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:s.cutAfter])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection mid-body
	}
	if s.ignoreRange {
		w.Write(data)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (s *server) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// tarball returns a tar.gz holding pkg-1.0/README and some bulk, so that
// resuming has something to resume.
func tarball(t testing.TB) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	tw := tar.NewWriter(zw)
	add := func(name, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1e9, 0)})
		tw.Write([]byte(body))
	}
	add("pkg-1.0/README", "hello\n")
	add("pkg-1.0/bulk", strings.Repeat("0123456789", 20000))
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func fetcher(t *testing.T, opts Options) (*Fetcher, string) {
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond
	}
	return New(opts), opts.CacheDir
}

// cacheFiles lists every regular file under the cache.
// cacheFiles lists the files in the cache, leaving out the entry locks
// (empty files that are kept: removing one could let two processes hold
// "the" lock at once).
func cacheFiles(t *testing.T, dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "locks" {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

func TestFetchAndMaterialize(t *testing.T) {
	data := tarball(t)
	srv := newServer(t, map[string][]byte{"/dl/pkg-1.0.tar.gz": data})
	var progress bytes.Buffer
	f, cache := fetcher(t, Options{Progress: &progress})
	src := plan.Source{Kind: "url", URLs: []string{srv.URL + "/dl/pkg-1.0.tar.gz"}, SHA256: sum(data), Strip: 1}
	var log bytes.Buffer
	if err := f.Fetch(context.Background(), src, &log); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(CachePath(cache, sum(data))); !bytes.Equal(got, data) {
		t.Fatal("cache entry differs from the download")
	}
	if progress.Len() == 0 {
		t.Error("no progress written")
	}
	// A second fetch is served from the cache.
	if err := f.Fetch(context.Background(), src, &log); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	dest := t.TempDir()
	if err := f.Materialize(context.Background(), src, dest, &log); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "README")); err != nil || string(b) != "hello\n" {
		t.Errorf("README = %q, %v", b, err)
	}
}

func TestHashMismatch(t *testing.T) {
	data := tarball(t)
	srv := newServer(t, map[string][]byte{"/pkg.tar.gz": data})
	f, cache := fetcher(t, Options{})
	want := sum([]byte("something else"))
	u := srv.URL + "/pkg.tar.gz"
	err := f.Fetch(context.Background(), plan.Source{URLs: []string{u}, SHA256: want}, nil)
	var hm *HashMismatchError
	if !errors.As(err, &hm) {
		t.Fatalf("err = %v, want a HashMismatchError", err)
	}
	for _, s := range []string{u, want, sum(data)} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if files := cacheFiles(t, cache); len(files) != 0 {
		t.Errorf("cache holds %v after a mismatch", files)
	}
}

func TestResume(t *testing.T) {
	data := tarball(t)
	const cut = 50000
	cases := []struct {
		name        string
		retries     int
		runs        int
		ignoreRange bool
		wantRange   string
	}{
		{"retry in the same run", 1, 1, false, "bytes=50000-"},
		{"next run", -1, 2, false, "bytes=50000-"},
		{"server ignores range", 1, 1, true, "bytes=50000-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, map[string][]byte{"/pkg.tar.gz": data})
			srv.cutAfter, srv.ignoreRange = cut, tc.ignoreRange
			f, cache := fetcher(t, Options{Retries: tc.retries})
			src := plan.Source{URLs: []string{srv.URL + "/pkg.tar.gz"}, SHA256: sum(data)}
			var err error
			var log bytes.Buffer
			for range tc.runs {
				err = f.Fetch(context.Background(), src, &log)
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			reqs := srv.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if reqs[0].Header.Get("Range") != "" {
				t.Errorf("first request has Range %q", reqs[0].Header.Get("Range"))
			}
			if got := reqs[1].Header.Get("Range"); got != tc.wantRange {
				t.Errorf("second request Range = %q, want %q", got, tc.wantRange)
			}
			if got, _ := os.ReadFile(CachePath(cache, sum(data))); sum(got) != sum(data) {
				t.Error("resumed file does not verify")
			}
			if tc.ignoreRange && !strings.Contains(log.String(), "starting over") {
				t.Errorf("log does not say it started over:\n%s", log.String())
			}
			if _, err := os.Stat(partialPath(cache, sum(data))); !os.IsNotExist(err) {
				t.Error("partial file left behind")
			}
		})
	}
}

func TestMirrorFallThrough(t *testing.T) {
	data := tarball(t)
	h := sum(data)
	empty := newServer(t, map[string][]byte{})
	byHash := newServer(t, map[string][]byte{"/m/sha256/" + h: data})
	origin := newServer(t, map[string][]byte{"/pkg.tar.gz": data})
	f, cache := fetcher(t, Options{Mirrors: []string{empty.URL, t.TempDir(), byHash.URL + "/m/"}})
	src := plan.Source{URLs: []string{origin.URL + "/pkg.tar.gz"}, SHA256: h}
	if err := f.Fetch(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(empty.requests()); n != 3 {
		t.Errorf("empty mirror got %d requests, want 3 (name, sha256/hex, hex)", n)
	}
	if n := len(origin.requests()); n != 0 {
		t.Errorf("origin got %d requests, want 0", n)
	}
	if !exists(CachePath(cache, h)) {
		t.Error("not cached")
	}
}

func TestOffline(t *testing.T) {
	data := tarball(t)
	h := sum(data)
	cases := []struct {
		name    string
		fill    func(t *testing.T, cache, mirror string)
		wantErr bool
	}{
		{"cache empty", func(*testing.T, string, string) {}, true},
		{"cache filled", func(t *testing.T, cache, _ string) {
			p := filepath.Join(t.TempDir(), "pkg.tar.gz")
			os.WriteFile(p, data, 0o644)
			if sums, err := CacheAdd(cache, p); err != nil || sums[0] != h {
				t.Fatalf("CacheAdd = %v, %v", sums, err)
			}
		}, false},
		{"local mirror", func(t *testing.T, _, mirror string) {
			os.WriteFile(filepath.Join(mirror, "pkg.tar.gz"), data, 0o644)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, map[string][]byte{"/pkg.tar.gz": data})
			mirror := t.TempDir()
			f, cache := fetcher(t, Options{Offline: true, Mirrors: []string{srv.URL, mirror}})
			tc.fill(t, cache, mirror)
			u := srv.URL + "/pkg.tar.gz"
			err := f.Fetch(context.Background(), plan.Source{URLs: []string{u}, SHA256: h}, nil)
			if tc.wantErr {
				if !errors.Is(err, ErrMissingOffline) {
					t.Fatalf("err = %v, want ErrMissingOffline", err)
				}
				for _, s := range []string{"pkg.tar.gz", h, u} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %s", err, s)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n := len(srv.requests()); n != 0 {
				t.Errorf("server got %d requests offline", n)
			}
		})
	}
}

func TestFileURLAndPlainFile(t *testing.T) {
	body := []byte("From: a patch\n")
	p := filepath.Join(t.TempDir(), "fix.patch")
	os.WriteFile(p, body, 0o644)
	f, _ := fetcher(t, Options{Offline: true})
	src := plan.Source{URLs: []string{"file://" + p}, SHA256: sum(body)}
	if err := f.Fetch(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	if err := f.Materialize(context.Background(), src, dest, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "fix.patch")); !bytes.Equal(b, body) {
		t.Errorf("copied %q", b)
	}
}

func TestMaterializeDamagedCache(t *testing.T) {
	data := tarball(t)
	f, cache := fetcher(t, Options{})
	h := sum(data)
	os.MkdirAll(filepath.Join(cache, "sha256"), 0o755)
	damaged := bytes.Clone(data)
	damaged[len(damaged)-10] ^= 1 // in the gzip trailer, after the tar
	os.WriteFile(CachePath(cache, h), damaged, 0o644)
	dest := t.TempDir()
	err := f.Materialize(context.Background(), plan.Source{SHA256: h, URLs: []string{"https://example.invalid/pkg.tar.gz"}}, dest, nil)
	if err == nil {
		t.Fatal("damaged cache entry accepted")
	}
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("dest not emptied: %v", ents)
	}
	if exists(CachePath(cache, h)) {
		t.Error("damaged entry kept")
	}
}

const (
	goTarball = "/var/cache/bootstrap-debsrc/golang-1.19_1.19.8.orig.tar.gz"
	goSHA256  = "1d7a67929dccafeaf8a29e55985bc2b789e0499cb1a17100039f084e3238da2f"
)

func TestRealGoTarballOffline(t *testing.T) {
	if _, err := os.Stat(goTarball); err != nil {
		t.Skipf("%s absent (apt-get source --download-only golang-1.19 puts it there): %v", goTarball, err)
	}
	cache := t.TempDir()
	sums, err := CacheAdd(cache, goTarball)
	if err != nil || sums[0] != goSHA256 {
		t.Fatalf("CacheAdd = %v, %v", sums, err)
	}
	f := New(Options{CacheDir: cache, Offline: true})
	src := plan.Source{Kind: "url", URLs: []string{"https://dl.google.com/go/go1.19.8.src.tar.gz"}, SHA256: goSHA256, Strip: 1}
	if err := f.Fetch(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
}
