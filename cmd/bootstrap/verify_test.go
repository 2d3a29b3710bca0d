package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/porterkit/bootstrap/runner/provenance"
)

const (
	tcModule  = "golang.org/toolchain"
	tcVersion = "v0.0.1-go1.99.1.linux-amd64"
)

// toolchainTree is a small Go-like tree: its make.bash packs it with
// testdata/verify/mkzip.go, as make.bash -distpack packs a real one.
var toolchainTree = map[string]string{
	"VERSION":         "go1.99.1\ntime 2026-01-01T00:00:00Z\n",
	"src/go.mod":      "module std\n",
	"src/cmd/go.mod":  "module cmd\n",
	"src/pkg/a.go":    "package a\n\nconst A = 1\n",
	"src/pkg/b.go":    "package a\n\nconst B = 2\n",
	"src/make.bash":   "#!/bin/sh\nset -e\ncd ..\nmkdir -p pkg/distpack\n\"$GO\" run \"$MKZIP\" . \"$MODVER\" \"pkg/distpack/$ZIPNAME\"\n",
	"lib/wasm/x.js":   "//\n",
	"misc/README.txt": "hi\n",
}

// officialToolchain packs toolchainTree with mkzip into the "published"
// module zip and returns its bytes and h1.
func officialToolchain(t *testing.T, goBin, mkzip string) ([]byte, string) {
	t.Helper()
	root := t.TempDir()
	for name, data := range toolchainTree {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	zipPath := filepath.Join(t.TempDir(), "official.zip")
	cmd := exec.Command(goBin, "run", mkzip, root, tcModule+"@"+tcVersion, zipPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkzip: %v\n%s", err, out)
	}
	data, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return data, h1
}

// serveModule answers the module proxy protocol's zip request for one
// module version on a loopback address; anything else is a 404.
func serveModule(t *testing.T, mod, version string, data []byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+mod+"/@v/"+version+".zip" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// checkRecord checks the run's provenance record against the spec and
// that it holds each of want.
func checkRecord(t *testing.T, dir string, want ...string) {
	t.Helper()
	path := filepath.Join(hostWork(dir, "verify-test"), "provenance.json")
	envelope, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := provenance.CheckShape(envelope); err != nil {
		t.Error(err)
	}
	f, err := provenance.ReadFile(path) // the signed statement
	if err != nil {
		t.Fatal(err)
	}
	data := f.Payload
	for _, w := range want {
		if !strings.Contains(string(data), w) {
			t.Errorf("provenance.json lacks %s", w)
		}
	}
}

func TestVersion(t *testing.T) {
	r := bs(t, t.TempDir(), "--version")
	if r.code != 0 || !regexp.MustCompile(`^bootstrap \S+, revision .+, go1\.\d+`).MatchString(r.stdout) {
		t.Errorf("--version: exit %d, %q", r.code, r.stdout)
	}
}

// bsEnv runs the binary like bs with extra environment variables.
func bsEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	// XDG_CONFIG_HOME: the signing key of the test's own, not the user's.
	cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(dir, ".config")), env...)
	return runResult(t, cmd)
}

// runResult runs cmd and returns its exit code and output; a command that
// cannot be started fails the test.
func runResult(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return r
}

const verifyRecipe = `name: verify-test
env:
  GO: GOBIN
  GOCACHE: GOCACHEDIR
  MKZIP: MKZIPPATH
  MODVER: MODULE@VERSION
  ZIPNAME: VERSION.zip
components:
  - name: go
    source:
      gomod: MODULE@VERSION
      h1: H1
      dest: go
PATCHES
    steps:
      - name: make
        dir: ${{ src }}/go/src
        run: ./make.bash
    verify:
      file: ${{ src }}/go/pkg/distpack/VERSION.zip
      gomod: MODULE@VERSION
      h1: H1
`

// TestVerifyToolchain builds a toolchain-like module from its own module
// zip and verifies it: bit-identical as is, and a failure naming the file
// when a patch changes one byte of one file.
func TestVerifyToolchain(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on PATH")
	}
	mkzip, _ := filepath.Abs("testdata/verify/mkzip.go")
	data, h1 := officialToolchain(t, goBin, mkzip)
	proxy := serveModule(t, tcModule, tcVersion, data)
	// The steps share the caller's Go build cache, to build in seconds;
	// a sandbox hides it (and the caller's home), so they run unconfined.
	gocache, _ := exec.Command(goBin, "env", "GOCACHE").Output()

	write := func(dir, patches string) {
		r := strings.NewReplacer("GOBIN", goBin, "GOCACHEDIR", strings.TrimSpace(string(gocache)), "MKZIPPATH", mkzip,
			"MODULE", tcModule, "VERSION", tcVersion, "H1", h1, "PATCHES", patches)
		if err := os.WriteFile(filepath.Join(dir, "verify.yaml"), []byte(r.Replace(verifyRecipe)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"GOPROXY=" + proxy}

	t.Run("bit-identical", func(t *testing.T) {
		dir := t.TempDir()
		write(dir, "")
		r := bsEnv(t, dir, env, "run", "--no-sandbox", "verify.yaml")
		if r.code != 0 {
			t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		log, _ := os.ReadFile(filepath.Join(hostWork(dir, "verify-test"), "logs/go/verify.log"))
		if !strings.Contains(string(log), "bit-identical") {
			t.Errorf("verify log does not say bit-identical:\n%s", log)
		}
		checkRecord(t, dir, `"verified": "bit-identical"`, `"status": "ran"`, `"against": "official"`, `"verifiedAgainst": "the official release"`)
		r = bsEnv(t, dir, append(env, "GOPROXY=off"), "run", "--no-sandbox", "--offline", "verify.yaml")
		if r.code != 0 || len(started(r.stdout)) != 0 {
			t.Errorf("rerun: exit %d, started %v\n%s%s", r.code, started(r.stdout), r.stdout, r.stderr)
		}
		// Nothing ran: the record of the run that did stays as it is.
		checkRecord(t, dir, `"verified": "bit-identical"`, `"status": "ran"`)
		r = bsEnv(t, dir, append(env, "GOPROXY=off"), "run", "--no-sandbox", "--offline", "--force", "go:verify", "verify.yaml")
		if got := started(r.stdout); r.code != 0 || len(got) != 1 {
			t.Errorf("forced verify: exit %d, started %v\n%s%s", r.code, got, r.stdout, r.stderr)
		}
		checkRecord(t, dir, `"verified": "bit-identical"`, `"status": "done earlier"`)
		r = bsEnv(t, dir, nil, "record", "verify.yaml")
		if r.code != 0 || !regexp.MustCompile(`go:make\s+done earlier\s+\S+s\s+exit 0`).MatchString(r.stdout) ||
			!regexp.MustCompile(`go:verify\s+ran\s+\S+s\s+exit 0\s+bit-identical`).MatchString(r.stdout) {
			t.Errorf("record: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("one byte off", func(t *testing.T) {
		dir := t.TempDir()
		patch := "--- a/go/src/pkg/a.go\n+++ b/go/src/pkg/a.go\n@@ -1,3 +1,3 @@\n package a\n \n-const A = 1\n+const A = 2\n"
		if err := os.WriteFile(filepath.Join(dir, "one-byte.patch"), []byte(patch), 0o644); err != nil {
			t.Fatal(err)
		}
		write(dir, "    patches:\n      - file: one-byte.patch")
		r := bsEnv(t, dir, env, "run", "--no-sandbox", "verify.yaml")
		if r.code != 1 {
			t.Fatalf("run: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("what the porter sees:\n%s", r.stderr)
		name := tcModule + "@" + tcVersion + "/src/pkg/a.go: sha256 "
		if !strings.Contains(r.stderr, name) || strings.Contains(r.stderr, "/src/pkg/b.go") {
			t.Errorf("the failure does not name %s alone:\n%s", name, r.stderr)
		}
		if !strings.Contains(r.stderr, "go:verify") {
			t.Errorf("the failure does not name the step go:verify:\n%s", r.stderr)
		}
		checkRecord(t, dir, `"status": "failed"`, `/src/pkg/a.go"`)
		r = bsEnv(t, dir, nil, "record", "verify.yaml")
		if !strings.Contains(r.stdout, "NOT bit-identical: 1 file(s) differ") {
			t.Errorf("record after the failure:\n%s%s", r.stdout, r.stderr)
		}
	})
}
