// Package registrytest starts a real OCI registry for tests: Debian's
// docker-registry (the CNCF distribution registry 2.8) on 127.0.0.1 at a
// free port, with htpasswd authentication and its storage in a temporary
// directory, and writes the docker config that logs into it.
package registrytest

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Binary is where Debian's docker-registry package installs the registry.
const Binary = "/usr/bin/docker-registry"

// User and Password are the account the registry accepts.
const (
	User     = "porter"
	Password = "s3cret-for-tests"
)

// Registry is a running registry.
type Registry struct {
	// Host is 127.0.0.1:PORT.
	Host string
	// Storage is the registry's root directory (blobs live under
	// docker/registry/v2/blobs/sha256/XX/HEX/data).
	Storage string
	// AuthFile is a docker config.json with the account's credentials,
	// for REGISTRY_AUTH_FILE or DOCKER_CONFIG's config.json.
	AuthFile string
	cmd      *exec.Cmd
}

// Start starts a registry that lives until the test ends. Without the
// binary the test is skipped, unless CI is set (CI=true): there the
// registry is part of the test's promise, and its absence fails it.
func Start(t testing.TB) *Registry {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: scripts/deps.sh test installs docker-registry", Binary)
		}
		t.Skipf("%s is missing (apt-get install docker-registry apache2-utils, or scripts/deps.sh test)", Binary)
	}
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	out, err := exec.Command("htpasswd", "-Bbc", htpasswd, User, Password).CombinedOutput()
	if err != nil {
		t.Fatalf("htpasswd (apache2-utils): %v\n%s", err, out)
	}
	port := freePort(t)
	r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port), Storage: filepath.Join(dir, "storage"),
		AuthFile: filepath.Join(dir, "auth.json")}
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
auth:
  htpasswd:
    realm: bootstrap-test
    path: %s
`, r.Storage, r.Host, htpasswd)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(User + ":" + Password))
	if err := os.WriteFile(r.AuthFile, fmt.Appendf(nil, `{"auths": {%q: {"auth": %q}}}`, r.Host, auth), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(Binary, "serve", cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", Binary, err)
	}
	t.Cleanup(func() { r.Stop(); log.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r // up, and asking for credentials
			}
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(log.Name())
			t.Fatalf("registry at %s did not come up: %v\n%s", r.Host, err, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the registry (the test's cleanup does it too): what a test of
// a registry that went down calls.
func (r *Registry) Stop() {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// freePort asks the kernel for a port nobody listens on.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
