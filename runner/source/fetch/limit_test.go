package fetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// TestSizeLimit: a download larger than the source's size stops there
// and is not retried, whether the server announces its length or streams
// it without one, and
// nothing of it stays in the cache; at its exact size it is fetched.
func TestSizeLimit(t *testing.T) {
	data := tarball(t)
	n := int64(len(data))
	cases := []struct {
		name     string
		size     int64
		chunked  bool
		wantErr  bool
		wantReqs int
	}{
		{"announced, over", n - 1, false, true, 1},
		{"streamed, over", n / 2, true, true, 1},
		{"exact", n, false, false, 1},
		{"no size: the default", 0, false, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, map[string][]byte{"/pkg.tar.gz": data})
			srv.ignoreRange = c.chunked // w.Write without Content-Length: chunked
			f, cache := fetcher(t, Options{})
			src := plan.Source{Kind: "url", URLs: []string{srv.URL + "/pkg.tar.gz"}, SHA256: sum(data), Size: c.size}
			err := f.Fetch(context.Background(), src, nil)
			var tl *TooLargeError
			if c.wantErr != errors.As(err, &tl) {
				t.Fatalf("Fetch = %v", err)
			}
			if got := len(srv.requests()); got != c.wantReqs {
				t.Errorf("%d requests, want %d", got, c.wantReqs)
			}
			if c.wantErr {
				if !strings.Contains(err.Error(), srv.URL+"/pkg.tar.gz") {
					t.Errorf("error does not name the URL: %v", err)
				}
				if files := cacheFiles(t, cache); len(files) != 0 {
					t.Errorf("left in the cache: %v", files)
				}
			}
		})
	}
}

// TestGetMaxAndNotFound: Get stops at its limit and tells a 404 apart.
func TestGetMaxAndNotFound(t *testing.T) {
	data := tarball(t)
	srv := newServer(t, map[string][]byte{"/z.zip": data})
	f, _ := fetcher(t, Options{})
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := f.Get(context.Background(), srv.URL+"/z.zip", out, int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := out.Stat(); st.Size() != int64(len(data)) {
		t.Errorf("got %d bytes, want %d", st.Size(), len(data))
	}
	if err := f.Get(context.Background(), srv.URL+"/z.zip", out, 100, nil); !errors.As(err, new(*TooLargeError)) {
		t.Errorf("over the limit: %v", err)
	}
	if err := f.Get(context.Background(), srv.URL+"/missing.zip", out, 100, nil); !IsNotFound(err) {
		t.Errorf("missing: %v", err)
	}
}
