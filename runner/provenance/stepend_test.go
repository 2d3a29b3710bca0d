package provenance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/runner/sign"
	"github.com/porterkit/bootstrap/runner/state"
)

// endStep checkpoints a step and keeps its StepEnd as the runner does
// when it ends, with the given host facts.
func endStep(t *testing.T, workDir string, cp *state.Checkpoint, outputs []string, facts string) {
	t.Helper()
	digests, err := OutputDigests(outputs, cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveStepEnd(workDir, &StepEnd{Step: cp.Step, Build: cp.Build, Outputs: digests, HostFacts: facts}); err != nil {
		t.Fatal(err)
	}
	if err := state.Open(workDir).Save(cp); err != nil {
		t.Fatal(err)
	}
}

// TestSubjectDigestsAreTheStepEnds: the record carries the digest of the
// output as its step left it; an output changed since is marked in the
// record, and VerifyFile fails on it, on a changed byte in the signed
// statement, and on another key.
func TestSubjectDigestsAreTheStepEnds(t *testing.T) {
	p := compile(t)
	ctx := context.Background()
	out := filepath.Join(p.WorkDir, "build/tool/out")
	os.MkdirAll(filepath.Dir(out), 0o755)
	os.WriteFile(out, []byte("built\n"), 0o755)
	facts, err := SaveFacts(p.WorkDir, []ResourceDescriptor{{Name: "host kernel", URI: "linux:kernel/test"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"tool:fetch", "tool:patch", "tool:build"} {
		s := p.Step(id)
		cp := &state.Checkpoint{Step: id, Signature: s.Signature, Inputs: s.Inputs, Build: state.NewBuildID(), Finished: time.Now()}
		endStep(t, p.WorkDir, cp, s.Outputs, facts)
	}
	k, _, _ := sign.LoadOrCreate(filepath.Join(t.TempDir(), "keys"))
	record := func() (*Statement, string) {
		st, err := Build(Run{Plan: p, Started: time.Now(), Finished: time.Now(), Version: ReadVersion(), HostFacts: facts})
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(ctx, p.WorkDir, st, k); err != nil {
			t.Fatal(err)
		}
		return st, Path(p.WorkDir)
	}
	st, path := record()
	// sha256 of "built\n", as sha256sum prints it.
	const stepEndSum = "56f6e6304d02d413bb7d5d463ac5cdc58551266dc7269b467fc385815f39b913"
	if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != stepEndSum {
		t.Fatalf("subjects %+v", st.Subject)
	}
	if _, bad := st.Subject[0].Annotations["mismatch"]; bad {
		t.Fatalf("fresh output: %+v", st.Subject[0])
	}
	v, err := VerifyFile(ctx, path, k.Public())
	if err != nil || !v.OK() || v.Subjects != 1 {
		t.Fatalf("VerifyFile of a good record: %v %+v", err, v)
	}

	// Someone changes the output after its step: the record still names
	// the step's digest, and says the disk differs.
	os.WriteFile(out, []byte("built, then changed\n"), 0o755)
	st, path = record()
	if got := st.Subject[0].Digest["sha256"]; got != stepEndSum {
		t.Errorf("subject digest %s, want the step end's %s", got, stepEndSum)
	}
	if m, _ := st.Subject[0].Annotations["mismatch"].(string); !strings.Contains(m, "sha256 on disk is") {
		t.Errorf("mismatch annotation %q", m)
	}
	v, _ = VerifyFile(ctx, path, k.Public())
	if v.OK() || !strings.Contains(strings.Join(v.Problems, "\n"), "subject "+out) {
		t.Errorf("VerifyFile of a changed output: %+v", v)
	}

	// The output is put back: the disk matches, but the record written
	// meanwhile still says it did not; a fresh record is clean again.
	os.WriteFile(out, []byte("built\n"), 0o755)
	if v, _ = VerifyFile(ctx, path, k.Public()); v.OK() || len(v.Problems) != 1 || !strings.Contains(v.Problems[0], "the record says") {
		t.Errorf("VerifyFile of a record that saw a change: %+v", v)
	}
	_, path = record()
	if v, _ = VerifyFile(ctx, path, k.Public()); !v.OK() {
		t.Errorf("VerifyFile after the output is back: %+v", v)
	}

	// One changed byte in the signed statement, and another key.
	var env map[string]any
	data, _ := os.ReadFile(path)
	json.Unmarshal(data, &env)
	payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	payload[len(payload)/2] ^= 1
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	data, _ = json.Marshal(env)
	tampered := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(tampered, data, 0o644)
	if v, err = VerifyFile(ctx, tampered, k.Public()); err != nil || v.OK() || !strings.Contains(v.Problems[0], "signature") {
		t.Errorf("VerifyFile of a tampered statement: %v %+v", err, v)
	}
	other, _, _ := sign.LoadOrCreate(filepath.Join(t.TempDir(), "other"))
	if v, _ = VerifyFile(ctx, path, other.Public()); v.OK() {
		t.Error("VerifyFile accepted another key's verdict")
	}
}

// TestHostFactsPerStep: a step done in an earlier run keeps that run's
// facts; a step of this run has this run's; both sets are in the record,
// each step naming its own.
func TestHostFactsPerStep(t *testing.T) {
	p := compile(t)
	old, _ := SaveFacts(p.WorkDir, []ResourceDescriptor{{Name: "host kernel", URI: "linux:kernel/6.1.0-old"}})
	now, _ := SaveFacts(p.WorkDir, []ResourceDescriptor{{Name: "host kernel", URI: "linux:kernel/6.12.0-new"}})
	if again, _ := SaveFacts(p.WorkDir, []ResourceDescriptor{{Name: "host kernel", URI: "linux:kernel/6.1.0-old"}}); again != old {
		t.Errorf("the same facts stored twice: %s, %s", old, again)
	}
	for id, facts := range map[string]string{"tool:fetch": old, "tool:patch": now} {
		s := p.Step(id)
		endStep(t, p.WorkDir, &state.Checkpoint{Step: id, Signature: s.Signature, Inputs: s.Inputs, Build: state.NewBuildID()}, nil, facts)
	}
	st, err := Build(Run{Plan: p, Ran: []string{"tool:patch"}, Version: ReadVersion(), HostFacts: now,
		Failed: map[string]Failure{"tool:build": {Exit: 2, Error: "boom"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tool:fetch": shortID(old), "tool:patch": shortID(now), "tool:build": shortID(now)}
	for _, b := range st.Predicate.RunDetails.Byproducts {
		if w, ok := want[b.Name]; ok && b.Annotations["hostFacts"] != w {
			t.Errorf("%s: hostFacts %v, want %s", b.Name, b.Annotations["hostFacts"], w)
		}
		if _, ok := want[b.Name]; !ok && b.Annotations["hostFacts"] != nil {
			t.Errorf("%s, never run, has host facts %v", b.Name, b.Annotations["hostFacts"])
		}
	}
	kernels := map[string]any{}
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		if d.Name == "host kernel" {
			kernels[d.URI] = d.Annotations["hostFacts"]
		}
	}
	if kernels["linux:kernel/6.1.0-old"] != shortID(old) || kernels["linux:kernel/6.12.0-new"] != shortID(now) || len(kernels) != 2 {
		t.Errorf("host kernels in the record: %v", kernels)
	}
}

// TestCheckShapeEnvelope: the written envelope passes CheckShape, and one
// without signatures, or with another payload type, does not.
func TestCheckShapeEnvelope(t *testing.T) {
	p := compile(t)
	st, err := Build(Run{Plan: p, Version: ReadVersion()})
	if err != nil {
		t.Fatal(err)
	}
	k, _, _ := sign.LoadOrCreate(filepath.Join(t.TempDir(), "keys"))
	if err := Write(context.Background(), p.WorkDir, st, k); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(Path(p.WorkDir))
	if err := CheckShape(data); err != nil {
		t.Fatalf("our envelope: %v", err)
	}
	var env map[string]any
	for name, change := range map[string]func(){
		"no signatures": func() { env["signatures"] = []any{} },
		"payload type":  func() { env["payloadType"] = "application/json" },
		"extra field":   func() { env["payload_type"] = "x" },
	} {
		json.Unmarshal(data, &env)
		change()
		bad, _ := json.Marshal(env)
		if err := CheckShape(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkSaveStepEnd is what keeping a step's end costs each step (an
// atomic, synced write beside its checkpoint).
func BenchmarkSaveStepEnd(b *testing.B) {
	work := b.TempDir()
	e := &StepEnd{Step: "c:s", Build: "0123456789abcdef01234567", HostFacts: strings.Repeat("a", 64),
		Outputs: map[string]map[string]string{"/w/install/x": {"sha256": strings.Repeat("b", 64)}}}
	for b.Loop() {
		if err := SaveStepEnd(work, e); err != nil {
			b.Fatal(err)
		}
	}
}
