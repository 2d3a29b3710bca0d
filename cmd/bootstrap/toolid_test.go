package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// toolidRecipe: "uses" names mytool (a script in a dir on the steps'
// PATH), "plain" does not. TOOLS is replaced by that dir.
const toolidRecipe = `name: toolid
env:
  PATH: TOOLS:/usr/bin:/bin
components:
  - name: uses
    tools: [mytool]
    steps:
      - name: one
        run: mytool > out1
      - name: two
        run: mytool > out2
  - name: plain
    steps:
      - name: one
        run: echo plain > out
`

// writeMytool writes the tool the recipe names: a script that prints
// "mytool VERSION" for --version and its version when run.
func writeMytool(t *testing.T, path, version string) {
	t.Helper()
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'mytool " + version + "'; exit 0; fi\necho built by " + version + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestToolIdentity runs a recipe whose first component names a host tool,
// changes the tool's content, and checks that plan shows exactly that
// component's run steps stale, explain names the tool with its old and
// new binary and version, the run reruns exactly them, and a no-op rerun
// after that runs nothing.
func TestToolIdentity(t *testing.T) {
	dir := t.TempDir()
	// Not under the test's temp dir: a sandboxed step has a /tmp of its
	// own, so a host tool there is not on its PATH (as on a porter's
	// machine, where tools live in /usr or /opt).
	tools, err := os.MkdirTemp("/var/tmp", "bootstrap-toolid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tools) })
	if err := os.Chmod(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	mytool := filepath.Join(tools, "mytool")
	writeMytool(t, mytool, "1.0")
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(strings.ReplaceAll(toolidRecipe, "TOOLS", tools)), 0o644); err != nil {
		t.Fatal(err)
	}

	r := bs(t, dir, "run", "--plain", "r.yaml")
	if got, want := started(r.stdout), []string{"plain:one", "uses:one", "uses:two"}; r.code != 0 || !equal(got, want) {
		t.Fatalf("first run: exit %d, started %v, want %v\n%s%s", r.code, got, want, r.stdout, r.stderr)
	}
	cache, err := os.ReadFile(filepath.Join(dir, ".cache/bootstrap/toolid.json"))
	if err != nil || !strings.Contains(string(cache), `"`+mytool+`"`) {
		t.Errorf("the identity cache does not hold mytool (%v):\n%s", err, cache)
	}
	r = bs(t, dir, "run", "--plain", "r.yaml")
	if r.code != 0 || len(started(r.stdout)) != 0 {
		t.Fatalf("no-op rerun: exit %d, started %v", r.code, started(r.stdout))
	}

	// Rewrite the tool in place (same inode, same size): a new build of
	// it, as a package upgrade would install.
	writeMytool(t, mytool, "1.1")
	r = bs(t, dir, "plan", "r.yaml")
	toolChange := regexp.QuoteMeta("tool mytool changed: "+mytool+" sha256:") + `[0-9a-f]{12} → sha256:[0-9a-f]{12}`
	for _, re := range []string{
		`(?m)^uses:one\s+stale\s+\S+\s+\S+\s+` + toolChange,
		`(?m)^uses:two\s+stale\s+.*` + toolChange,
		`(?m)^plain:one\s+done\s`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("plan after changing mytool: no line matching %s\n%s", re, r.stdout)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^\S+\s+stale\s`).FindAllString(r.stdout, -1)); r.code != 0 || n != 2 {
		t.Errorf("plan: exit %d, %d stale steps, want 2\n%s", r.code, n, r.stdout)
	}

	r = bs(t, dir, "explain", "r.yaml", "uses:one")
	want := regexp.MustCompile(`(?s)tool mytool:\n  was: ` + regexp.QuoteMeta(mytool) + ` sha256:[0-9a-f]{64}\n\s+mytool 1\.0\n  now: ` +
		regexp.QuoteMeta(mytool) + ` sha256:[0-9a-f]{64}\n\s+mytool 1\.1\n`)
	if r.code != 0 || !strings.Contains(r.stdout, "uses:one: stale") || !want.MatchString(r.stdout) {
		t.Errorf("explain uses:one: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = bs(t, dir, "run", "--plain", "r.yaml")
	if got, want := started(r.stdout), []string{"uses:one", "uses:two"}; r.code != 0 || !equal(got, want) {
		t.Errorf("after changing mytool: exit %d, started %v, want %v\n%s", r.code, got, want, r.stderr)
	}
	out, err := os.ReadFile(filepath.Join(hostWork(dir, "toolid"), "build/uses/out2"))
	if err != nil || string(out) != "built by 1.1\n" {
		t.Errorf("uses:two's output %q (%v), want the new tool's", out, err)
	}
	r = bs(t, dir, "run", "--plain", "r.yaml")
	if r.code != 0 || len(started(r.stdout)) != 0 {
		t.Errorf("no-op after the rerun: exit %d, started %v\n%s", r.code, started(r.stdout), r.stdout)
	}
}
