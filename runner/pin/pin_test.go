package pin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func gitRepo(t *testing.T) (url, commit string) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q"},
		{"commit", "-q", "--allow-empty", "-m", "one"},
		{"tag", "-a", "-m", "v1", "v1.0"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + dir, strings.TrimSpace(string(out))
}

func TestFile(t *testing.T) {
	files := map[string]string{"/go1.19.8.src.tar.gz": "go source", "/patch.diff": "a patch", "/b.tar.xz": "b"}
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	repo, commit := gitRepo(t)

	in := `# A recipe with comments that must survive.
name: demo
vars:
  go_version: 1.19.8   # keep me
  base: ` + srv.URL + `
components:
  - name: go
    source:
      url: ${{ base }}/go${{ go_version }}.src.tar.gz  # upstream
      strip: 1
  - name: tools
    sources:
      - url:
          - ${{ base }}/missing.diff
          - ${{ base }}/patch.diff
        dest: patches

      - git: ` + repo + `
        ref: v1.0
        dest: .
      - url: "${{ base }}/b.tar.xz"
        sha256: 0000000000000000000000000000000000000000000000000000000000000000
    steps:
      - name: build
        run: make
`
	want := strings.Replace(in, "  # upstream\n", "  # upstream\n      sha256: "+sum("go source")+"\n      size: 9\n", 1)
	want = strings.Replace(want, "/patch.diff\n", "/patch.diff\n        sha256: "+sum("a patch")+"\n        size: 7\n", 1)
	want = strings.Replace(want, "ref: v1.0\n", "ref: v1.0\n        commit: "+commit+"\n", 1)

	file := filepath.Join(t.TempDir(), "demo.yaml")
	os.WriteFile(file, []byte(in), 0o640)
	changes, err := File(context.Background(), file, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(file)
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if len(changes) != 5 || changes[0].Component != "go" || changes[0].Line != 10 || changes[1].Key != "size" || changes[4].Key != "commit" {
		t.Errorf("changes = %+v", changes)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v", st.Mode())
	}
	// Pinning a pinned recipe changes nothing and downloads nothing.
	before := requests.Load()
	if changes, err := File(context.Background(), file, Options{CacheDir: t.TempDir()}); err != nil || len(changes) != 0 {
		t.Errorf("second pin: %v, %v", changes, err)
	}
	if requests.Load() != before {
		t.Errorf("second pin made %d requests", requests.Load()-before)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct{ name, recipe, want string }{
		{"unknown var", "components:\n  - name: a\n    source:\n      url: https://x/${{ work }}/a.tgz\n", "demo.yaml:4:12: cannot pin: ${{ work }}"},
		{"flow style", "components:\n  - name: a\n    source: {url: 'file:///nonexistent/a.tgz'}\n", "flow style"},
		{"offline", "components:\n  - name: a\n    source:\n      url: http://127.0.0.1:1/a.tgz\n", "offline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "demo.yaml")
			os.WriteFile(file, []byte(tc.recipe), 0o644)
			_, err := File(context.Background(), file, Options{CacheDir: t.TempDir(), Offline: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if got, _ := os.ReadFile(file); string(got) != tc.recipe {
				t.Error("file changed on error")
			}
		})
	}
}
