package runner_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/toolid"
)

// withTools names a real host tool, sh.
const withTools = `name: withtools
components:
  - name: a
    tools: [sh]
    steps:
      - {name: one, run: 'echo one > out.txt'}
`

// TestSessionToolIdentity: on the host a session compiles the identity of
// the tools a component names into its steps' signatures and caches the
// digest in the cache dir; under emulation the root file system's package
// set stands for every tool and no tool identity is added.
func TestSessionToolIdentity(t *testing.T) {
	s := openSession(t, withTools, runner.Config{})
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	if v := s.Plan().Step("a:one").Inputs["tool sh"]; !strings.HasPrefix(v, sh+" sha256:") {
		t.Errorf("host: tool sh = %q, want %s sha256:…", v, sh)
	}
	cache := filepath.Join(filepath.Dir(s.Plan().WorkDir), "cache", toolid.CacheName)
	if data, err := os.ReadFile(cache); err != nil || !strings.Contains(string(data), sh) {
		t.Errorf("identity cache %s: %v\n%s", cache, err, data)
	}

	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "hello"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openSession(t, withTools, runner.Config{Target: "ppc64le", Executor: executor.Config{Rootfs: tree}})
	for k := range s.Plan().Step("a:one").Inputs {
		if strings.HasPrefix(k, "tool ") {
			t.Errorf("emulated: input %q, want no tool identity", k)
		}
	}
}
