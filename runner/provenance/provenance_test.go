package provenance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner/sign"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/verify"
)

const testRecipe = `name: prov
targets: [amd64, arm64]
host:
  tools: [sh]
components:
  - name: tool
    source:
      url: https://example.org/tool-1.0.tar.gz
      sha256: 1111111111111111111111111111111111111111111111111111111111111111
    patches:
      - file: fix.patch
    steps:
      - name: build
        run: make
    outputs:
      - ${{ build }}/out
  - name: go
    needs: [tool]
    source:
      gomod: golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64
      h1:
        amd64: h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
        arm64: h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=
    steps:
      - name: make
        run: ./make.bash
    verify:
      file: ${{ src }}/pkg/distpack/v0.0.1-go1.99.1.linux-amd64.zip
      gomod: golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64
      h1:
        amd64: h1:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC=
        arm64: h1:DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD=
`

// compile writes the recipe and its patch in a temp dir and compiles it for
// amd64 with the work dir inside.
func compile(t *testing.T) *plan.Plan {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fix.patch"), []byte("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"), 0o644)
	path := filepath.Join(dir, "prov.yaml")
	os.WriteFile(path, []byte(testRecipe), 0o644)
	r, err := recipe.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tgt, _ := arch.Lookup("amd64")
	p, err := plan.Compile(r, plan.Options{WorkDir: filepath.Join(dir, "work"), Host: arch.Host{Target: tgt}, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// done writes a checkpoint for a step as the runner would after success.
func done(t *testing.T, p *plan.Plan, id string, record any) {
	st := p.Step(id)
	cp := &state.Checkpoint{Step: id, Signature: st.Signature, Inputs: st.Inputs, Build: state.NewBuildID(),
		Started: time.Now().UTC(), Finished: time.Now().UTC(), Seconds: 1.5}
	if len(st.Outputs) > 0 {
		cp.Outputs = map[string]string{}
		for _, o := range st.Outputs {
			cp.Outputs[o] = "sha256:abcd"
		}
	}
	if record != nil {
		cp.Record, _ = json.Marshal(record)
	}
	if err := state.Open(p.WorkDir).Save(cp); err != nil {
		t.Fatal(err)
	}
}

func TestRecord(t *testing.T) {
	p := compile(t)
	out := filepath.Join(p.WorkDir, "build/tool/out")
	os.MkdirAll(out, 0o755)
	for _, id := range []string{"tool:fetch", "tool:patch", "tool:build", "go:fetch", "go:patch", "go:make"} {
		done(t, p, id, nil)
	}
	artifact := p.Step("go:verify").Verify.File
	diff := &verify.Result{Artifact: artifact, ArtifactSHA256: "ee", Reference: p.Step("go:verify").Verify.Reference,
		Differences: []verify.Difference{{Name: "golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64/src/a.go"}}}
	r := Run{Plan: p, Started: time.Now().Add(-time.Minute), Finished: time.Now(), Ran: []string{"go:make"},
		Parameters: map[string]any{"offline": true},
		Failed:     map[string]Failure{"go:verify": {Exit: 1, Error: "not bit-identical", Verification: diff}},
		Version:    ReadVersion()}
	var err error
	if r.HostFacts, err = SaveFacts(p.WorkDir, HostFacts(context.Background(), p.Recipe)); err != nil {
		t.Fatal(err)
	}
	cp, _ := state.Open(p.WorkDir).Load("go:make")
	if err := SaveStepEnd(p.WorkDir, &StepEnd{Step: "go:make", Build: cp.Build, HostFacts: r.HostFacts}); err != nil {
		t.Fatal(err)
	}
	st, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := sign.LoadOrCreate(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(context.Background(), p.WorkDir, st, k); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(Path(p.WorkDir))
	if err != nil || f.Envelope == nil {
		t.Fatalf("ReadFile: %v, envelope %v", err, f.Envelope)
	}
	data := f.Payload
	if err := CheckShape(data); err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		`"uri": "https://example.org/tool-1.0.tar.gz"`, `"sha256": "1111111111111111111111111111111111111111111111111111111111111111"`,
		`"uri": "pkg:golang/golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64"`, `"dirHash": "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`,
		`"dirHash": "h1:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC="`,
		`"name": "tool patch fix.patch"`, `"name": "host kernel"`, `"name": "host tool sh"`, `"name": "go official artifact"`,
		`"bootstrapTreeSha256": "abcd"`, `"status": "failed"`, `/src/a.go"`, `"status": "ran"`, `"status": "done earlier"`,
		`"target": "amd64"`, `"offline": true`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("record lacks %s", want)
		}
	}
	if strings.Contains(text, "BBBB") || strings.Contains(text, "DDDD") {
		t.Error("record holds the arm64 pins of an amd64 run")
	}
	if len(st.Subject) != 1 || st.Subject[0].Name != out {
		t.Errorf("subjects %+v, want only the tool's output (the verification failed)", st.Subject)
	}
	back, err := Read(p.WorkDir)
	if err != nil || back.Predicate.RunDetails.Builder.ID != BuilderID {
		t.Fatalf("Read: %v %+v", err, back)
	}
}

func TestCheckShapeRejects(t *testing.T) {
	good := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],
"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"x","externalParameters":{}},
"runDetails":{"builder":{"id":"b"},"metadata":{"startedOn":"2026-01-01T00:00:00Z"}}}}`
	if err := CheckShape([]byte(good)); err != nil {
		t.Fatalf("a minimal valid statement: %v", err)
	}
	for name, tc := range map[string]struct{ from, to, want string }{
		"protobuf field name":    {`"predicateType"`, `"predicate_type"`, `"predicate_type" is not in the statement spec`},
		"no builder id":          {`"builder":{"id":"b"}`, `"builder":{}`, `required field "id" missing`},
		"subject no digest":      {`"digest":{"sha256":"00"}`, `"uri":"file:///a"`, "a subject needs a digest"},
		"wrong type":             {`Statement/v1`, `Statement/v0.1`, "_type is"},
		"bad time":               {`2026-01-01T00:00:00Z`, `yesterday`, "metadata.startedOn"},
		"no external params":     {`,"externalParameters":{}`, ``, `required field "externalParameters" missing`},
		"unknown descriptor key": {`"name":"a"`, `"nom":"a"`, `field "nom" is not in the descriptor spec`},
	} {
		t.Run(name, func(t *testing.T) {
			doc := strings.Replace(good, tc.from, tc.to, 1)
			if err := CheckShape([]byte(doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckShape: %v, want %q", err, tc.want)
			}
		})
	}
}
