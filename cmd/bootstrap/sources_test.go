package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

// need skips the test when a tool it drives is not installed.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, name := range tools {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s is not installed", name)
		}
	}
}

// sh runs a command in dir and fails the test when it fails.
func sh(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t", "GIT_AUTHOR_DATE=2020-01-01T00:00:00Z",
		"GIT_COMMITTER_DATE=2020-01-01T00:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// svnRepo makes a Subversion repository with a trunk of two files at
// revision 1 and returns the trunk's file:// URL.
func svnRepo(t *testing.T) string {
	t.Helper()
	need(t, "svn", "svnadmin")
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	sh(t, base, "svnadmin", "create", repo)
	wc := filepath.Join(base, "wc")
	sh(t, base, "svn", "checkout", "-q", "file://"+repo, wc)
	os.MkdirAll(filepath.Join(wc, "trunk/src"), 0o755)
	os.WriteFile(filepath.Join(wc, "trunk/VERSION"), []byte("1.0\n"), 0o644)
	os.WriteFile(filepath.Join(wc, "trunk/src/main.c"), []byte("int main(void) { return 0; }\n"), 0o644)
	sh(t, wc, "svn", "add", "-q", "trunk")
	sh(t, wc, "svn", "commit", "-q", "-m", "r1")
	return "file://" + repo + "/trunk"
}

// svnRecipe writes a recipe with one svn source (and tree, when given)
// whose step copies VERSION into the build dir.
func svnRecipe(t *testing.T, dir, url, tree string) string {
	t.Helper()
	pin := ""
	if tree != "" {
		pin = "\n      tree: " + tree
	}
	p := filepath.Join(dir, "svn.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf(`name: svn
components:
  - name: old
    source:
      svn: %s
      revision: 1%s
    steps:
      - name: build
        run: cat ${{ src }}/VERSION > ${{ build }}/out
`, url, pin)), 0o644)
	return p
}

// TestSVNTreeHash: an svn source without its tree hash is refused; pin
// fills it in and the recipe runs; a line edited in the cached working
// copy is caught at the next materialize, and nothing is built from it.
func TestSVNTreeHash(t *testing.T) {
	url := svnRepo(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	recipe := svnRecipe(t, dir, url, "")

	r := bs(t, dir, "validate", recipe)
	if r.code != 2 || !strings.Contains(r.stderr, "svn source is not pinned by its content: add tree:") {
		t.Fatalf("validate without tree: exit %d, want 2 asking for tree:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := bs(t, dir, "pin", "--cache", cache, recipe); r.code != 0 {
		t.Fatalf("pin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	text, _ := os.ReadFile(recipe)
	m := regexp.MustCompile(`(?m)^      tree: (sha256:[0-9a-f]{64})$`).FindSubmatch(text)
	if m == nil {
		t.Fatalf("pin wrote no tree: line:\n%s", text)
	}
	if r := bs(t, dir, "validate", recipe); r.code != 0 {
		t.Fatalf("validate after pin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	work := filepath.Join(dir, "work")
	args := []string{"run", "--skip-doctor", "--cache", cache, "--workdir", work, recipe}
	if r := bs(t, dir, args...); r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// What pin computed is the tree the build got.
	if got, err := treehash.Sum(filepath.Join(work, "src", "old")); err != nil || got != string(m[1]) {
		t.Errorf("the source tree hashes to %s (%v), pin wrote %s", got, err, m[1])
	}

	wcs, _ := filepath.Glob(filepath.Join(cache, "svn", "*", "VERSION"))
	if len(wcs) != 1 {
		t.Fatalf("cached working copy not found: %v", wcs)
	}
	os.WriteFile(wcs[0], []byte("1.0-evil\n"), 0o644)
	r = bs(t, dir, append(args, "--force", "old:patch")...)
	if r.code != 1 || !strings.Contains(r.stderr, "not the pinned tree "+string(m[1])) || !strings.Contains(r.stderr, "was changed or damaged") {
		t.Fatalf("run on a tampered cache: exit %d, want 1 naming the tree hash\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out, _ := os.ReadFile(filepath.Join(work, "build", "old", "out")); strings.Contains(string(out), "evil") {
		t.Error("the tampered file reached the build")
	}
	if data, _ := os.ReadFile(filepath.Join(work, "src", "old", "VERSION")); strings.Contains(string(data), "evil") {
		t.Error("the tampered file reached the source tree")
	}
}

// TestSVNSharedCache: runs sharing one cache fetch the same svn source at
// once, three times over; every run succeeds (without a lock on the cache
// entry, two runs broke the svn fetch 3 times out of 3).
func TestSVNSharedCache(t *testing.T) {
	url := svnRepo(t)
	dir := t.TempDir()
	recipe := svnRecipe(t, dir, url, "")
	if r := bs(t, dir, "pin", "--cache", filepath.Join(dir, "pincache"), recipe); r.code != 0 {
		t.Fatalf("pin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for round := 0; round < 3; round++ {
		cache := filepath.Join(dir, fmt.Sprint("cache", round))
		var wg sync.WaitGroup
		results := make([]result, 3)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				work := filepath.Join(dir, fmt.Sprintf("work%d-%d", round, i))
				results[i] = bs(t, dir, "run", "--skip-doctor", "--cache", cache, "--workdir", work, recipe)
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Fatalf("round %d, run %d: exit %d\n%s%s", round, i, r.code, r.stdout, r.stderr)
			}
		}
	}
}

// TestGitBackendsOneTree: a commit whose .gitattributes marks a file
// export-ignore and another export-subst gives the same tree, exactly as
// committed, with the git program and with go-git (BOOTSTRAP_GIT=none).
func TestGitBackendsOneTree(t *testing.T) {
	need(t, "git")
	repo := t.TempDir()
	sh(t, repo, "git", "init", "-q")
	os.WriteFile(filepath.Join(repo, ".gitattributes"), []byte("ignored.txt export-ignore\nversion.txt export-subst\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "ignored.txt"), []byte("kept in the tree\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "version.txt"), []byte("$Format:%H$\n"), 0o644)
	sh(t, repo, "git", "add", ".")
	sh(t, repo, "git", "commit", "-q", "-m", "attributes")
	commit := sh(t, repo, "git", "rev-parse", "HEAD")
	dir := t.TempDir()
	recipe := filepath.Join(dir, "attrs.yaml")
	os.WriteFile(recipe, []byte(fmt.Sprintf(`name: attrs
components:
  - name: a
    source:
      git: file://%s
      commit: %s
    steps:
      - name: build
        run: "true"
`, repo, commit)), 0o644)
	sums := map[string]string{}
	for _, backend := range []string{"git", "none"} {
		work := filepath.Join(dir, "work-"+backend)
		r := bsEnv(t, dir, []string{"BOOTSTRAP_GIT=" + backend}, "run", "--skip-doctor",
			"--cache", filepath.Join(dir, "cache-"+backend), "--workdir", work, recipe)
		if r.code != 0 {
			t.Fatalf("BOOTSTRAP_GIT=%s: exit %d\n%s%s", backend, r.code, r.stdout, r.stderr)
		}
		src := filepath.Join(work, "src", "a")
		if data, err := os.ReadFile(filepath.Join(src, "version.txt")); err != nil || string(data) != "$Format:%H$\n" {
			t.Errorf("BOOTSTRAP_GIT=%s: version.txt = %q, %v; want it as committed", backend, data, err)
		}
		if _, err := os.Stat(filepath.Join(src, "ignored.txt")); err != nil {
			t.Errorf("BOOTSTRAP_GIT=%s: ignored.txt missing: %v", backend, err)
		}
		sum, err := treehash.Sum(src)
		if err != nil {
			t.Fatal(err)
		}
		sums[backend] = sum
	}
	if sums["git"] != sums["none"] {
		t.Errorf("one commit, two trees: git %s, go-git %s", sums["git"], sums["none"])
	}
}

// serveFile serves data at /name from a loopback server.
func serveFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+name {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + name
}

// archiveRecipe writes a recipe whose one source is url (sha256 sum) with
// the extra source lines more.
func archiveRecipe(t *testing.T, dir, url, sum, more string) string {
	t.Helper()
	p := filepath.Join(dir, "bomb.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf(`name: bomb
components:
  - name: bomb
    source:
      url: %s
      sha256: %s%s
    steps:
      - name: build
        run: "true"
`, url, sum, more)), 0o644)
	return p
}

// usage is the bytes of the files under dir.
func usage(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestArchiveLimits: a 300 KB .tar.gz of 300 MB of zeros stops at the
// recipe's unpacked_size:, and a 10 KB sparse tar of a 20 GiB file at the
// default limit, each with an error naming the archive and the limit (not
// the disk, and not advising a rerun) and having written no more than it.
// A download larger than the recipe's size: stops there too.
func TestArchiveLimits(t *testing.T) {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "bomb/zeros", Mode: 0o644, Size: 300 << 20, Typeflag: tar.TypeReg})
	io.Copy(tw, io.LimitReader(zeroReader{}, 300<<20))
	tw.Close()
	zw.Close()

	need(t, "tar", "truncate")
	sp := t.TempDir()
	os.MkdirAll(filepath.Join(sp, "sparse"), 0o755)
	os.WriteFile(filepath.Join(sp, "sparse", "holes"), []byte("start"), 0o644)
	sh(t, sp, "truncate", "-s", "20G", "sparse/holes")
	sh(t, sp, "tar", "-cSf", "sparse.tar", "sparse")
	sparse, _ := os.ReadFile(filepath.Join(sp, "sparse.tar"))

	cases := []struct {
		name  string
		data  []byte
		more  string
		limit string
	}{
		{"gzip bomb", bomb.Bytes(), "\n      unpacked_size: 64M", "67108864"},
		{"sparse tar", sparse, "", "4294967296"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			url := serveFile(t, "archive.tar", c.data)
			recipe := archiveRecipe(t, dir, url, sha(c.data), c.more)
			work := filepath.Join(dir, "work")
			r := bs(t, dir, "run", "--skip-doctor", "--cache", filepath.Join(dir, "cache"), "--workdir", work, recipe)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{"bomb:patch", "archive.tar", "limit of " + c.limit + " bytes", "unpacked_size"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "disk is full") || strings.Contains(r.stderr, "again") {
				t.Errorf("stderr blames the disk or advises a rerun:\n%s", r.stderr)
			}
			if n := usage(filepath.Join(work, "src")); n > 64<<20 {
				t.Errorf("unpacked %d bytes before stopping", n)
			}
			t.Logf("%d-byte archive stopped: %s", len(c.data), lastLine(r.stderr))
		})
	}

	t.Run("download over size", func(t *testing.T) {
		dir := t.TempDir()
		data := sourceTar(t, true, 1<<20)
		url := serveFile(t, "pkg.tar.gz", data)
		recipe := archiveRecipe(t, dir, url, sha(data), "\n      size: 1000")
		cache := filepath.Join(dir, "cache")
		r := bs(t, dir, "fetch", "--cache", cache, recipe)
		if r.code == 0 || !strings.Contains(r.stderr, "larger than its limit of 1000 bytes") {
			t.Fatalf("exit %d, want a failure naming the size limit\n%s%s", r.code, r.stdout, r.stderr)
		}
		if n := usage(cache); n > 1000 {
			t.Errorf("the cache holds %d bytes after a download stopped at 1000", n)
		}
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestGoModStall: a module proxy that accepts the connection and never
// answers, and one that stalls in the middle of the zip, are cut after
// --stall-timeout and retried --retries times; the run fails saying the
// proxy stalled instead of hanging.
func TestGoModStall(t *testing.T) {
	cases := []struct {
		name  string
		serve func(c net.Conn)
	}{
		{"never answers", func(c net.Conn) {}},
		{"stalls mid-body", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: 100000\r\n\r\nPK\x03\x04partial")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var conns []net.Conn
			accepted := 0
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					conns, accepted = append(conns, conn), accepted+1
					mu.Unlock()
					go func() {
						buf := make([]byte, 4096)
						conn.Read(buf) // the request
						c.serve(conn)  // then nothing more, ever
					}()
				}
			}()
			t.Cleanup(func() {
				ln.Close()
				mu.Lock()
				for _, c := range conns {
					c.Close()
				}
				mu.Unlock()
			})
			dir := t.TempDir()
			recipe := filepath.Join(dir, "mod.yaml")
			os.WriteFile(recipe, []byte(`name: mod
components:
  - name: m
    source:
      gomod: example.com/stalled@v1.0.0
      h1: h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
    steps:
      - name: build
        run: "true"
`), 0o644)
			start := time.Now()
			r := bsEnv(t, dir, []string{"GOPROXY=http://" + ln.Addr().String()}, "fetch", "--cache", filepath.Join(dir, "cache"),
				"--stall-timeout", "1s", "--retries", "1", "--retry-wait", "10ms", recipe)
			took := time.Since(start)
			if r.code == 0 || !strings.Contains(r.stderr, "stalled") {
				t.Fatalf("exit %d after %v, want a failure saying the proxy stalled\n%s%s", r.code, took, r.stdout, r.stderr)
			}
			if took > 20*time.Second {
				t.Errorf("took %v to give up on a stalled proxy with a 1s stall timeout", took)
			}
			mu.Lock()
			defer mu.Unlock()
			if accepted != 2 {
				t.Errorf("the proxy saw %d connections, want 2 (one retry)", accepted)
			}
			t.Logf("gave up after %v: %s", took.Round(time.Millisecond), lastLine(r.stderr))
		})
	}
}

// TestLogCap: a step printing 8 MB keeps a log of its first and last
// bytes with a line saying how much was dropped, as $BOOTSTRAP_LOG_CAP
// sets; the step's last line is still there for the failure report.
func TestLogCap(t *testing.T) {
	dir := t.TempDir()
	recipe := filepath.Join(dir, "loud.yaml")
	os.WriteFile(recipe, []byte(`name: loud
components:
  - name: c
    steps:
      - name: loud
        run: |
          echo first line
          i=0; while [ $i -lt 200 ]; do head -c 40000 /dev/zero | tr '\0' 'x'; echo; i=$((i+1)); done
          echo last line
          exit 3
`), 0o644)
	work := filepath.Join(dir, "work")
	r := bsEnv(t, dir, []string{"BOOTSTRAP_LOG_CAP=64K,256K"}, "run", "--skip-doctor", "--workdir", work, recipe)
	if r.code != 1 || !strings.Contains(r.stderr, "last line") {
		t.Fatalf("exit %d, want 1 with the log's last line in the report\n%s%s", r.code, r.stdout, r.stderr)
	}
	log, err := os.ReadFile(filepath.Join(work, "logs", "c", "loud.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(log) > 64<<10+2*256<<10+400 {
		t.Errorf("log is %d bytes; the cap is 64K + 256K", len(log))
	}
	m := regexp.MustCompile(`# bootstrap: (\d+) bytes of output dropped here`).FindSubmatch(log)
	if m == nil || !bytes.Contains(log[:64<<10], []byte("first line")) || !bytes.Contains(log, []byte("last line")) {
		t.Fatalf("log (%d bytes) lacks its head, its tail or the dropped-bytes line", len(log))
	}
	t.Logf("8 MB of output: log of %d bytes, %s bytes dropped", len(log), m[1])
}

// TestLogDiskFull: a step that fills the work dir's small disk with its
// output fails naming itself and the full disk, not with exit 141.
func TestLogDiskFull(t *testing.T) {
	disk := smallDisk(t, "4m")
	dir := t.TempDir()
	recipe := filepath.Join(dir, "loud.yaml")
	os.WriteFile(recipe, []byte(`name: loud
components:
  - name: c
    steps:
      - name: loud
        run: head -c 64000000 /dev/zero | tr '\0' 'x'
`), 0o644)
	r := bs(t, dir, "run", "--skip-doctor", "--workdir", filepath.Join(disk, "work"), recipe)
	wantDiskFull(t, r, "c:loud")
	// 141 as a number of its own: a temporary file's random name may
	// hold those digits (.provenance.json.tmp-2614139108 once did).
	if regexp.MustCompile(`\b141\b`).MatchString(r.stderr) {
		t.Errorf("the report still says exit 141:\n%s", r.stderr)
	}
}

// TestTempSweep: temporary files a killed run left in the cache and the
// work dir are removed by the next run that does work once older than a
// day; younger ones (another run's, still in use) are kept.
func TestTempSweep(t *testing.T) {
	dir := t.TempDir()
	data := sourceTar(t, true, 1000)
	url := serveFile(t, "pkg.tar.gz", data)
	recipe := archiveRecipe(t, dir, url, sha(data), "")
	cache, work := filepath.Join(dir, "cache"), filepath.Join(dir, "work")
	args := []string{"run", "--skip-doctor", "--cache", cache, "--workdir", work, recipe}
	if r := bs(t, dir, args...); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	old := []string{
		filepath.Join(cache, "tmp", "dl-123"),
		filepath.Join(cache, "partial", "gomod-456.zip"),
		filepath.Join(work, "state", "bomb", ".build.json.tmp-789"),
		filepath.Join(work, "src", ".export-42", "t", "file"),
	}
	young := []string{
		filepath.Join(cache, "tmp", "dl-young"),
		filepath.Join(work, "state", "bomb", ".fetch.json.tmp-young"),
	}
	twoDaysAgo := time.Now().Add(-49 * time.Hour)
	for _, p := range append(old, young...) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("left by a killed run"), 0o644)
	}
	for _, p := range old {
		os.Chtimes(p, twoDaysAgo, twoDaysAgo)
	}
	os.Chtimes(filepath.Join(work, "src", ".export-42"), twoDaysAgo, twoDaysAgo)

	// Nothing to do: nothing is swept (a no-op run stays cheap).
	if r := bs(t, dir, args...); r.code != 0 {
		t.Fatalf("no-op run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(old[0]); err != nil {
		t.Fatalf("a run with nothing to do swept: %v", err)
	}
	r := bs(t, dir, append(args, "--force", "bomb:build")...)
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "removed 4 temporary file(s)") {
		t.Fatalf("run: exit %d, want it to say it removed 4 temporary files\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, p := range old {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range young {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("a young temporary file was removed: %v", err)
		}
	}
}
