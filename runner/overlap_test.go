package runner_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

func tarball(t *testing.T, name, content string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "pkg/" + name, Mode: 0o644, Size: int64(len(content))})
	tw.Write([]byte(content))
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestFetchOverlapsBuild: with -j1, the download of the second component
// must happen while the first component's build runs, not after it.
func TestFetchOverlapsBuild(t *testing.T) {
	data := tarball(t, "msg.txt", "hello")
	sum := sha256.Sum256(data)
	var requestedAt atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestedAt.CompareAndSwap(0, time.Now().UnixNano())
		w.Write(data)
	}))
	defer srv.Close()

	work := t.TempDir()
	marks := filepath.Join(work, "marks")
	text := fmt.Sprintf(`name: overlap
components:
  - name: slow
    steps:
      - name: build
        run: date +%%s%%N > %[1]s.start; sleep 1; date +%%s%%N > %[1]s.end
  - name: pkg
    needs: [slow]
    source:
      url: %[2]s/pkg.tar.gz
      sha256: %[3]s
      strip: 1
    steps:
      - name: show
        run: cat ${{ src }}/msg.txt
`, marks, srv.URL, hex.EncodeToString(sum[:]))
	f := &fixture{t: t, work: work, text: text}
	var out bytes.Buffer
	_, err := runner.Run(context.Background(), f.plan(), runner.Options{Jobs: 1, Printer: progress.NewPlain(&out),
		Sources: source.Set{"url": fetch.New(fetch.Options{CacheDir: filepath.Join(work, "cache")})}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	read := func(p string) int64 {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		fmt.Sscan(strings.TrimSpace(string(b)), &n)
		return n
	}
	// Without the overlap, -j1 would download only after the build ended.
	start, end, req := read(marks+".start"), read(marks+".end"), requestedAt.Load()
	if req == 0 || req > end {
		t.Errorf("the download (at %d) came after the build (%d to %d)\n%s", req, start, end, out.String())
	}
}
