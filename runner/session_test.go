package runner_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/rootfs"
	"github.com/porterkit/bootstrap/runner/sandbox"
)

// needy is a recipe whose host check fails on every machine: a run that
// checks the host stops before any step.
const needy = `name: needy
host:
  tools: [no-such-tool-bootstrap-test]
components:
  - name: a
    steps:
      - {name: one, run: 'echo one > out.txt'}
      - {name: two, run: 'echo two >> out.txt'}
`

// openSession writes text as a recipe and opens a session on it for
// amd64 with its work dir and cache in the test's temp dir.
func openSession(t *testing.T, text string, cfg runner.Config) *runner.Session {
	t.Helper()
	dir := t.TempDir()
	cfg.Recipe = filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(cfg.Recipe, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.WorkDir = filepath.Join(dir, "work")
	cfg.Cache = filepath.Join(dir, "cache")
	// The run signs its record: with a key of the test's, not the user's.
	t.Setenv("BOOTSTRAP_KEY_DIR", filepath.Join(dir, "keys"))
	amd64, _ := arch.Lookup("amd64")
	cfg.Detect = func() (arch.Host, error) { return arch.Host{Target: amd64}, nil }
	s, err := runner.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// run runs the session with a plain printer and returns the summary, the
// printed output and the error.
func runSession(s *runner.Session, o runner.RunOptions) (*runner.Summary, string, error) {
	var out bytes.Buffer
	o.Printer, o.Out, o.ErrOut = progress.NewPlain(&out), &out, &out
	sum, err := s.Run(context.Background(), o)
	return sum, out.String(), err
}

// TestSessionChecksTheHostOnlyWhenAStepRuns: a rerun with nothing to do
// neither checks the host (which would fail here) nor touches the record
// of the last real run; a run with work to do checks it and stops.
func TestSessionChecksTheHostOnlyWhenAStepRuns(t *testing.T) {
	s := openSession(t, needy, runner.Config{})
	work := s.Plan().WorkDir
	if _, out, err := runSession(s, runner.RunOptions{}); !errors.Is(err, runner.ErrHostChecks) {
		t.Fatalf("first run with checks: %v, want ErrHostChecks\n%s", err, out)
	} else if !strings.Contains(out, "the host is not ready") || !strings.Contains(out, "no-such-tool-bootstrap-test") {
		t.Errorf("failed checks not reported:\n%s", out)
	}
	if _, err := os.Stat(provenance.Path(work)); !os.IsNotExist(err) {
		t.Errorf("a run stopped by host checks wrote a record: %v", err)
	}
	sum, out, err := runSession(s, runner.RunOptions{SkipDoctor: true})
	if err != nil || len(sum.Ran) != 2 {
		t.Fatalf("run with --skip-doctor: %v, ran %v\n%s", err, sum, out)
	}
	before, err := os.ReadFile(provenance.Path(work))
	if err != nil {
		t.Fatalf("no record after a run: %v", err)
	}
	sum, out, err = runSession(s, runner.RunOptions{})
	if err != nil || len(sum.Ran) != 0 {
		t.Fatalf("no-op rerun checked the host or ran: %v, summary %+v\n%s", err, sum, out)
	}
	if after, _ := os.ReadFile(provenance.Path(work)); !bytes.Equal(before, after) {
		t.Error("the no-op rerun rewrote the provenance record")
	}
	_, _, err = runSession(s, runner.RunOptions{Selection: runner.Selection{Force: []string{"a:two"}}})
	if !errors.Is(err, runner.ErrHostChecks) {
		t.Errorf("forced run: %v, want ErrHostChecks", err)
	}
}

// TestSessionRunRecordsAndReports: a run writes a record naming what ran,
// and the session's Status and Step read the same checkpoints.
func TestSessionRunRecordsAndReports(t *testing.T) {
	s := openSession(t, strings.Replace(needy, "no-such-tool-bootstrap-test", "sh", 1), runner.Config{Jobs: 1})
	if _, out, err := runSession(s, runner.RunOptions{}); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	st, err := provenance.Read(s.Plan().WorkDir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Predicate.RunDetails.Byproducts); n != 2 {
		t.Errorf("record lists %d steps, want 2", n)
	}
	for _, id := range []string{"a:one", "a:two"} {
		if _, err := s.Step(id); err != nil {
			t.Errorf("Step(%s): %v", id, err)
		}
	}
	got, err := s.Status("a:two")
	if err != nil || got.State != runner.Done {
		t.Errorf("Status(a:two) = %v, %v; want done", got, err)
	}
	var usage *runner.UsageError
	if _, err := s.Status("a:nope"); !errors.As(err, &usage) || !strings.Contains(err.Error(), "bootstrap plan") {
		t.Errorf("unknown step: %v, want a UsageError naming `bootstrap plan`", err)
	}
}

// TestSessionOfflineNamesMissingSources: with --offline, a run whose
// fetch steps need a source the cache lacks names it and runs nothing.
func TestSessionOfflineNamesMissingSources(t *testing.T) {
	const text = `name: off
components:
  - name: a
    source:
      url: http://127.0.0.1:9/a.tar.gz
      sha256: 0000000000000000000000000000000000000000000000000000000000000000
    steps:
      - {name: one, run: 'true'}
`
	s := openSession(t, text, runner.Config{Sources: runner.SourceConfig{Offline: true}})
	sum, out, err := runSession(s, runner.RunOptions{SkipDoctor: true})
	if err == nil || !strings.Contains(err.Error(), "--offline: 1 source(s) unavailable") || !strings.Contains(err.Error(), "a.tar.gz") {
		t.Fatalf("offline run: %v (summary %v)\n%s", err, sum, out)
	}
	if _, err := os.Stat(provenance.Path(s.Plan().WorkDir)); !os.IsNotExist(err) {
		t.Errorf("a run that never started wrote a record: %v", err)
	}
}

// TestExecutorInputs: the host adds only the sandbox's version to
// signatures (nothing under --no-sandbox); an emulated
// run's tree that is not built yet gives a placeholder saying so (with the
// sandbox's version, which needs no tree), and a given tree its own
// identity under the keys spelled once.
func TestExecutorInputs(t *testing.T) {
	amd64, _ := arch.Lookup("amd64")
	ppc, _ := arch.Lookup("ppc64le")
	h := arch.Host{Target: amd64, KernelBits: 64}
	s := openSession(t, needy, runner.Config{})
	r := s.Plan().Recipe
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "hello"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	given, err := rootfs.FromDir(tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		cfg       executor.Config
		ready     bool
		executor  string
		packages  string // substring
		emptyWant bool
		sandbox   string // the whole of the host's inputs
	}{
		{name: "host", cfg: executor.Config{}, ready: true, sandbox: sandbox.Version},
		{name: "host, no sandbox", cfg: executor.Config{NoSandbox: true}, ready: true, emptyWant: true},
		{name: "not built", cfg: executor.Config{Emulate: true, CacheDir: t.TempDir()}, executor: "chroot", packages: "not built yet"},
		{name: "given tree", cfg: executor.Config{Rootfs: tree}, ready: true, executor: "chroot", packages: given.Identity()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, ready := tc.cfg.Inputs(r, h, ppc)
			if ready != tc.ready {
				t.Errorf("ready = %v, want %v", ready, tc.ready)
			}
			if tc.emptyWant {
				if in != nil {
					t.Errorf("host inputs = %v, want none", in)
				}
				return
			}
			if tc.sandbox != "" {
				if len(in) != 1 || in[executor.InputSandbox] != tc.sandbox {
					t.Errorf("host inputs = %v, want only %s=%s", in, executor.InputSandbox, tc.sandbox)
				}
				return
			}
			if in[executor.InputExecutor] != tc.executor || !strings.Contains(in[executor.InputRootfsPackages], tc.packages) {
				t.Errorf("inputs = %v, want executor %q and packages containing %q", in, tc.executor, tc.packages)
			}
			// Built or not, the tree's sandbox is an input: a plan
			// against a cache that lacks the tree differs from the
			// run's signatures in the package list only.
			if in[executor.InputSandbox] != sandbox.Version {
				t.Errorf("inputs = %v, want %s=%s", in, executor.InputSandbox, sandbox.Version)
			}
		})
	}
}

// TestSessionEmulatedPlanUsesTheCachedTree: a session opened for an
// emulated run compiles its signatures with the tree's identity at once.
func TestSessionEmulatedPlanUsesTheCachedTree(t *testing.T) {
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "hello"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := openSession(t, needy, runner.Config{Target: "ppc64le", Executor: executor.Config{Rootfs: tree}})
	step := s.Plan().Step("a:one")
	given, _ := rootfs.FromDir(tree)
	if step == nil || step.Inputs[executor.InputRootfsPackages] != given.Identity() {
		t.Fatalf("a:one's inputs lack the tree's identity: %v", step)
	}
}
