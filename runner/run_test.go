package runner_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/source"
)

// diamond: a → (b, c) → d, each step recording its ID in ran.txt.
const diamond = `name: diamond
components:
  - name: a
    steps:
      - {name: one, run: 'echo a:one >> ../../ran.txt'}
      - {name: two, run: 'echo a:two >> ../../ran.txt'}
  - name: b
    needs: [a]
    steps:
      - {name: x, run: 'echo b:x >> ../../ran.txt'}
  - name: c
    needs: [a]
    steps:
      - {name: x, run: 'echo c:x >> ../../ran.txt; FAILC'}
  - name: d
    needs: [b, c]
    steps:
      - {name: x, run: 'echo d:x >> ../../ran.txt'}
`

type fixture struct {
	t    *testing.T
	work string
	text string
}

func newFixture(t *testing.T, text string) *fixture {
	return &fixture{t: t, work: t.TempDir(), text: text}
}

func (f *fixture) plan() *plan.Plan {
	f.t.Helper()
	r, err := recipe.Parse(filepath.Join(f.work, "r.yaml"), []byte(f.text))
	if err != nil {
		f.t.Fatal(err)
	}
	amd64, _ := arch.Lookup("amd64")
	p, err := plan.Compile(r, plan.Options{WorkDir: f.work, Host: arch.Host{Target: amd64}, Jobs: 1})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// run runs the plan and returns the steps whose commands ran, sorted, and
// the printer's output.
func (f *fixture) run(opts runner.Options) ([]string, string, error) {
	f.t.Helper()
	ranFile := filepath.Join(f.work, "ran.txt")
	os.Remove(ranFile)
	var out bytes.Buffer
	pr := progress.NewPlain(&out)
	pr.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	opts.Printer = pr
	opts.Sources = source.Set{"dir": source.Dir{}}
	_, err := runner.Run(context.Background(), f.plan(), opts)
	data, _ := os.ReadFile(ranFile)
	var ran []string
	for _, id := range strings.Fields(string(data)) {
		ran = append(ran, id)
	}
	sort.Strings(ran)
	return ran, out.String(), err
}

func TestSelection(t *testing.T) {
	all := []string{"a:one", "a:two", "b:x", "c:x", "d:x"}
	tests := []struct {
		name string
		sel  runner.Selection
		// first is what runs on a fresh work dir, again what runs when
		// everything is done.
		first, again []string
		// nothing is what a run with nothing to do says.
		nothing string
	}{
		{"everything", runner.Selection{}, all, nil, "all 5 steps are done"},
		{"to a step", runner.Selection{To: "b:x"}, []string{"a:one", "a:two", "b:x"}, nil, "the 3 selected steps are done (of 5 in the plan)"},
		{"to a component", runner.Selection{To: "a"}, []string{"a:one", "a:two"}, nil, "the 2 selected steps are done (of 5 in the plan)"},
		{"from a step", runner.Selection{From: "c:x"}, nil, []string{"c:x", "d:x"}, ""},
		{"from a component", runner.Selection{From: "a"}, all, all, ""},
		{"only", runner.Selection{Only: []string{"b:x"}}, nil, []string{"b:x"}, ""},
		{"force reruns the step and what follows", runner.Selection{Force: []string{"b:x"}}, all, []string{"b:x", "d:x"}, ""},
		{"force a component", runner.Selection{Force: []string{"a"}}, all, all, ""},
		{"force-all with to", runner.Selection{ForceAll: true, To: "a:two"}, []string{"a:one", "a:two"}, []string{"a:one", "a:two"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, strings.ReplaceAll(diamond, "; FAILC", ""))
			ran, out, err := f.run(runner.Options{Selection: tt.sel})
			var ue *runner.UsageError
			if tt.first == nil {
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), "never completed") {
					t.Fatalf("on a fresh work dir: %v, want an error naming the steps that never completed", err)
				}
			} else if err != nil || !reflect.DeepEqual(ran, tt.first) {
				t.Fatalf("fresh run: ran %v (err %v), want %v\n%s", ran, err, tt.first, out)
			}
			if _, _, err := f.run(runner.Options{}); err != nil {
				t.Fatal(err)
			}
			ran, out, err = f.run(runner.Options{Selection: tt.sel})
			if err != nil || !reflect.DeepEqual(ran, tt.again) {
				t.Errorf("run when all done: ran %v (err %v), want %v\n%s", ran, err, tt.again, out)
			}
			if tt.again == nil && tt.nothing != "" && !strings.Contains(out, tt.nothing) {
				t.Errorf("run when all done printed:\n%s\nwant %q", out, tt.nothing)
			}
		})
	}
}

func TestUnknownStep(t *testing.T) {
	f := newFixture(t, diamond)
	_, _, err := f.run(runner.Options{Selection: runner.Selection{To: "e:x"}})
	if err == nil || !strings.Contains(err.Error(), `--to: no step or component "e:x"`) || !strings.Contains(err.Error(), "components: a, b, c, d") {
		t.Errorf("err = %v", err)
	}
}

func TestKeepGoing(t *testing.T) {
	f := newFixture(t, strings.ReplaceAll(diamond, "FAILC", "exit 7"))
	ran, out, err := f.run(runner.Options{KeepGoing: true})
	var fe *runner.FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Step != "c:x" || fe.Failed[0].Exit != 7 {
		t.Fatalf("err = %#v", err)
	}
	if !reflect.DeepEqual(fe.Skipped, []string{"d:x"}) {
		t.Errorf("skipped %v, want [d:x]", fe.Skipped)
	}
	if want := []string{"a:one", "a:two", "b:x", "c:x"}; !reflect.DeepEqual(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
	if !strings.Contains(out, "03:04:05 FAIL  c:x: exit status 7\n") {
		t.Errorf("printer output:\n%s", out)
	}
	// Without --keep-going the run stops at the failure: with -j1 and plan
	// order, b:x ran before c:x, and d:x is never started.
	f = newFixture(t, strings.ReplaceAll(diamond, "FAILC", "exit 7"))
	ran, _, _ = f.run(runner.Options{})
	if want := []string{"a:one", "a:two", "b:x", "c:x"}; !reflect.DeepEqual(ran, want) {
		t.Errorf("without keep-going ran %v, want %v", ran, want)
	}
}

func TestDryRun(t *testing.T) {
	f := newFixture(t, strings.ReplaceAll(diamond, "; FAILC", ""))
	if _, _, err := f.run(runner.Options{}); err != nil {
		t.Fatal(err)
	}
	f.text = strings.Replace(f.text, "echo b:x", "echo  b:x", 1)
	ran, out, err := f.run(runner.Options{DryRun: true})
	if err != nil || len(ran) != 0 {
		t.Fatalf("dry run ran %v, err %v", ran, err)
	}
	want := "03:04:05 would run b:x: command changed\n03:04:05 would run d:x: upstream step b:x changed\n"
	if out != want {
		t.Errorf("dry run printed:\n%s\nwant:\n%s", out, want)
	}
}

func TestPlainPrinterLines(t *testing.T) {
	f := newFixture(t, "name: one\ncomponents:\n  - name: a\n    steps:\n      - {name: s, run: 'true'}\n")
	_, out, err := f.run(runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "03:04:05 running 1 of 1 steps" || lines[1] != "03:04:05 start a:s" || !strings.HasPrefix(lines[2], "03:04:05 done  a:s in ") {
		t.Errorf("printer lines:\n%s", out)
	}
	_, out, _ = f.run(runner.Options{})
	if out != "03:04:05 all 1 steps are done; nothing to run\n" {
		t.Errorf("rerun printed %q", out)
	}
}

// TestGoTelemetryOffInSteps: a host go of 1.23 or later run by a step must
// find telemetry off in the steps' home, or it starts a detached uploader
// that writes into the work dir after the step.
func TestGoTelemetryOffInSteps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on PATH")
	}
	f := newFixture(t, `name: telemetry
components:
  - name: a
    env: {PATH: '`+filepath.Dir(gobin)+`:/usr/bin:/bin'}
    steps:
      - {name: env, run: 'go env GOTELEMETRY > ../../mode.txt; echo a:env >> ../../ran.txt'}
`)
	if ran, out, err := f.run(runner.Options{}); err != nil || len(ran) != 1 {
		t.Fatalf("ran %v, err %v\n%s", ran, err, out)
	}
	mode, err := os.ReadFile(filepath.Join(f.work, "mode.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// A go before 1.23 prints an empty line: it has no telemetry.
	if m := strings.TrimSpace(string(mode)); m != "off" && m != "" {
		t.Errorf("go env GOTELEMETRY in a step = %q, want off", m)
	}
	if _, err := os.Stat(filepath.Join(f.work, "home", ".config", "go", "telemetry", "local")); err == nil {
		t.Error("go counted telemetry into the steps' home")
	}
}
