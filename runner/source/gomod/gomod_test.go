package gomod

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

// memFile is a file for modzip.Create.
type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (os.FileInfo, error)  { return memInfo{f}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo struct{ f memFile }

func (i memInfo) Name() string       { return filepath.Base(i.f.name) }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// moduleZip builds a real module zip with x/mod and returns it with its h1.
func moduleZip(t testing.TB, mod, version string, files map[string]string) ([]byte, string) {
	t.Helper()
	var fl []modzip.File
	for n, d := range files {
		fl = append(fl, memFile{name: n, data: []byte(d)})
	}
	sort.Slice(fl, func(i, j int) bool { return fl[i].Path() < fl[j].Path() })
	var buf bytes.Buffer
	if err := modzip.Create(&buf, module.Version{Path: mod, Version: version}, fl); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	h1, err := dirhash.HashZip(p, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), h1
}

// proxyServer speaks the module proxy protocol's zip endpoint on a
// loopback address, serving zips keyed by "<module>@<version>".
type proxyServer struct {
	*httptest.Server
	mu   sync.Mutex
	zips map[string][]byte
	hits []string
}

func newProxy(t *testing.T, zips map[string][]byte) *proxyServer {
	ps := &proxyServer{zips: zips}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.hits = append(ps.hits, r.URL.Path)
		ps.mu.Unlock()
		esc, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/@v/")
		if !ok || !strings.HasSuffix(rest, ".zip") {
			http.NotFound(w, r)
			return
		}
		mod, err1 := module.UnescapePath(esc)
		ver, err2 := module.UnescapeVersion(strings.TrimSuffix(rest, ".zip"))
		data, found := zips[mod+"@"+ver]
		if err1 != nil || err2 != nil || !found {
			http.Error(w, "not found", http.StatusGone)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(ps.Close)
	return ps
}

func (ps *proxyServer) requests() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.hits)
}

const testMod, testVer = "example.com/Hello", "v1.2.3"

var testFiles = map[string]string{
	"go.mod":        "module example.com/Hello\n",
	"hello.go":      "package hello\n",
	"sub/data.txt":  "data\n",
	"run/script.sh": "#!/bin/sh\n",
}

func src(mod, ver, h1 string) plan.Source {
	return plan.Source{Kind: "gomod", Module: mod, Version: ver, H1: h1, Dest: "."}
}

func TestFetchFromProxy(t *testing.T) {
	data, h1 := moduleZip(t, testMod, testVer, testFiles)
	_, otherH1 := moduleZip(t, testMod, testVer, map[string]string{"go.mod": "module example.com/Hello\n"})
	ps := newProxy(t, map[string][]byte{testMod + "@" + testVer: data})
	dead := newProxy(t, nil)
	tests := []struct {
		name    string
		proxy   string
		h1      string
		offline bool
		wantErr func(error) bool
		hits    int // requests the good proxy gets
	}{
		{name: "good", proxy: ps.URL, h1: h1, hits: 1},
		{name: "after a 404 or 410 on ','", proxy: dead.URL + "," + ps.URL, h1: h1, hits: 1},
		{name: "after any error on '|'", proxy: "http://127.0.0.1:1|" + ps.URL, h1: h1, hits: 1},
		{name: "direct is skipped", proxy: "direct," + ps.URL, h1: h1, hits: 1},
		{name: "wrong h1", proxy: ps.URL, h1: otherH1, hits: 1,
			wantErr: func(err error) bool { var m *H1MismatchError; return errors.As(err, &m) && m.Got == h1 }},
		{name: "missing", proxy: dead.URL, h1: h1,
			wantErr: func(err error) bool { return errors.Is(err, ErrNotFound) && !errors.Is(err, fetch.ErrMissingOffline) }},
		{name: "a server error stops ','", proxy: "http://127.0.0.1:1," + ps.URL, h1: h1,
			wantErr: func(err error) bool { return err != nil && !errors.Is(err, ErrNotFound) }},
		{name: "offline", proxy: ps.URL, h1: h1, offline: true,
			wantErr: func(err error) bool { return errors.Is(err, fetch.ErrMissingOffline) }},
		{name: "GOPROXY=off", proxy: "off", h1: h1,
			wantErr: func(err error) bool { return errors.Is(err, fetch.ErrMissingOffline) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			before := ps.requests()
			f := New(Options{CacheDir: cache, Proxy: tc.proxy, Offline: tc.offline})
			var log bytes.Buffer
			err := f.Fetch(context.Background(), src(testMod, testVer, tc.h1), &log)
			if got := ps.requests() - before; got != tc.hits {
				t.Errorf("good proxy got %d requests, want %d", got, tc.hits)
			}
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("Fetch: unexpected error %v", err)
				}
				if !strings.Contains(err.Error(), testMod+"@"+testVer) {
					t.Errorf("error does not name the module version: %v", err)
				}
				if files := cacheFiles(t, cache); len(files) != 0 {
					t.Errorf("a failed fetch left %v in the cache", files)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v\n%s", err, log.String())
			}
			// Cached: another fetch, offline, needs no proxy.
			off := New(Options{CacheDir: cache, Proxy: "off"})
			if err := off.Fetch(context.Background(), src(testMod, testVer, tc.h1), io.Discard); err != nil {
				t.Fatalf("offline fetch after caching: %v", err)
			}
			tree := t.TempDir()
			if err := off.Materialize(context.Background(), src(testMod, testVer, tc.h1), tree, io.Discard); err != nil {
				t.Fatal(err)
			}
			for name, want := range testFiles {
				got, err := os.ReadFile(filepath.Join(tree, name))
				if err != nil || string(got) != want {
					t.Errorf("%s: got %q, %v; want %q", name, got, err, want)
				}
			}
		})
	}
}

func cacheFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestCacheIsContentAddressed(t *testing.T) {
	data, h1 := moduleZip(t, testMod, testVer, testFiles)
	ps := newProxy(t, map[string][]byte{testMod + "@" + testVer: data})
	cache := t.TempDir()
	p, err := New(Options{CacheDir: cache, Proxy: ps.URL}).Zip(context.Background(), testMod, testVer, h1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("cached zip differs from the served one (%v)", err)
	}
	if want := fetch.CachePath(cache, sha256hex(data)); p != want {
		t.Errorf("cached at %s, want %s", p, want)
	}
}

func TestMaterializeDamagedCache(t *testing.T) {
	data, h1 := moduleZip(t, testMod, testVer, testFiles)
	ps := newProxy(t, map[string][]byte{testMod + "@" + testVer: data})
	cache := t.TempDir()
	f := New(Options{CacheDir: cache, Proxy: ps.URL})
	p, err := f.Zip(context.Background(), testMod, testVer, h1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := moduleZip(t, testMod, testVer, map[string]string{"go.mod": "module example.com/Hello\n"})
	if err := os.WriteFile(p, other, 0o644); err != nil {
		t.Fatal(err)
	}
	err = f.Materialize(context.Background(), src(testMod, testVer, h1), t.TempDir(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no longer hashes") {
		t.Fatalf("Materialize of a damaged cache entry: %v", err)
	}
}
