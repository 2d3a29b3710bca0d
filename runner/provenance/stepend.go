package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
	"github.com/porterkit/bootstrap/runner/state"
)

// StepEnd is what the record needs about a step that must be taken when
// the step ends rather than when the record is written: its outputs'
// digests (a later step, or a person, may change them afterwards, and the
// record must not vouch for bytes the step did not make) and the host facts
// of the run that ran it (a step done in an earlier run keeps that run's).
// It is kept beside the step's checkpoint, as <work>/state/<comp>/<step>.prov
// (not *.json: nothing that lists checkpoints takes it for one), written
// before the checkpoint: one of another build than the checkpoint's is
// ignored.
type StepEnd struct {
	Step  string `json:"step"`
	Build string `json:"build"`
	// Outputs maps each declared output to its digests when the step
	// ended: "sha256" of a regular file, DigestTreeHash of a tree.
	Outputs map[string]map[string]string `json:"outputs,omitempty"`
	// HostFacts is the ID of the run's host facts (SaveFacts).
	HostFacts string `json:"hostFacts,omitempty"`
}

// stepEndPath is where a step's StepEnd is kept.
func stepEndPath(workDir, id string) string {
	comp, step, _ := strings.Cut(id, ":")
	return filepath.Join(workDir, "state", comp, step+".prov")
}

// SaveStepEnd writes e beside its step's checkpoint: to a temporary file
// renamed into place, so a reader sees all of it or the previous one, but
// without an fsync of its own (that doubled what a step's bookkeeping
// costs: 2.5 ms a step here). The checkpoint written next syncs the
// directory; after a power cut that loses the file's data, the .prov does
// not parse and the record falls back to the checkpoint's tree hashes,
// also taken at the step's end, and says the facts were not recorded.
// Errors name the file.
func SaveStepEnd(workDir string, e *StepEnd) error {
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("step end of %s: %w", e.Step, err)
	}
	p := stepEndPath(workDir, e.Step)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("step end of %s: %w", e.Step, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return fmt.Errorf("step end of %s: %w", e.Step, err)
	}
	_, err = f.Write(append(data, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// LoadStepEnd returns the StepEnd of a step's build, nil when there is
// none for that build (a checkpoint from before bootstrap kept them, or
// a file left by an attempt that did not finish) or it cannot be read.
func LoadStepEnd(workDir, id, build string) *StepEnd {
	data, err := os.ReadFile(stepEndPath(workDir, id))
	if err != nil {
		return nil
	}
	var e StepEnd
	if json.Unmarshal(data, &e) != nil || e.Step != id || e.Build != build {
		return nil
	}
	return &e
}

// OutputDigests takes the digests of a step's declared outputs as it ends:
// the sha256 of a regular file (what in-toto subjects carry), and for a
// tree the tree hash the checkpoint already holds (cp.Outputs, taken by
// the runner a moment earlier), computed here only when it is missing.
// Errors name the output.
func OutputDigests(outputs []string, cp *state.Checkpoint) (map[string]map[string]string, error) {
	if len(outputs) == 0 {
		return nil, nil
	}
	out := map[string]map[string]string{}
	for _, o := range outputs {
		if d := checkpointSubject(cp, o); d != nil {
			// Taken by the runner when the step ended (state.Checkpoint
			// Subjects): no second read of the output.
			out[o] = d
			continue
		}
		fi, err := os.Lstat(o)
		if err != nil {
			return nil, fmt.Errorf("declared output %s: %w", o, err)
		}
		if fi.Mode().IsRegular() {
			sum, err := treehash.FileSHA256(o)
			if err != nil {
				return nil, fmt.Errorf("declared output %s: %w", o, err)
			}
			out[o] = map[string]string{"sha256": sum}
			continue
		}
		sum := checkpointTreeHash(cp, o)
		if sum == "" {
			if sum, err = treehash.Sum(o); err != nil {
				return nil, fmt.Errorf("declared output %s: %w", o, err)
			}
		}
		out[o] = map[string]string{DigestTreeHash: strings.TrimPrefix(sum, "sha256:")}
	}
	return out, nil
}

// checkpointSubject is the output's digests as the runner took them when
// the step ended (sha256 of a file, the tree hash of a directory or a
// link), nil when the checkpoint has none (one written before it kept
// them).
func checkpointSubject(cp *state.Checkpoint, output string) map[string]string {
	if cp == nil || len(cp.Subjects[output]) == 0 {
		return nil
	}
	d := make(map[string]string, len(cp.Subjects[output]))
	for alg, v := range cp.Subjects[output] {
		if alg == state.DigestTreeHash {
			alg = DigestTreeHash
		}
		d[alg] = v
	}
	return d
}

// checkpointTreeHash is the one place that reads an output's digest from
// a checkpoint: the tree hash ("sha256:<hex>", bootstrap/treehash) the
// runner took when the step ended, "" when it has none. When the
// checkpoint grows per-output records (size, mtime, inode, digest), only
// this changes.
func checkpointTreeHash(cp *state.Checkpoint, output string) string {
	if cp == nil {
		return ""
	}
	return cp.Outputs[output]
}

// digestNow computes a file's or tree's digest of the given algorithm as
// it is on disk now; ok is false for an algorithm that cannot be checked
// against a path.
func digestNow(path, alg string) (sum string, ok bool, err error) {
	switch alg {
	case "sha256":
		sum, err = treehash.FileSHA256(path)
		return sum, true, err
	case DigestTreeHash:
		sum, err = treehash.Sum(path)
		return strings.TrimPrefix(sum, "sha256:"), true, err
	}
	return "", false, nil
}

// factsDir holds the host facts of the runs whose steps the work dir
// keeps, one file per distinct set, named by its content's sha256, as
// <id>.facts (JSON, but not *.json: nothing that lists checkpoints takes it
// for one).
func factsDir(workDir string) string { return filepath.Join(workDir, "state", ".host-facts") }

// SaveFacts stores a run's host facts and returns their ID (the sha256 of
// their JSON), which each step's StepEnd names. The same facts are stored
// once.
func SaveFacts(workDir string, facts []ResourceDescriptor) (string, error) {
	data, err := json.MarshalIndent(facts, "", "  ")
	if err != nil {
		return "", fmt.Errorf("host facts: %w", err)
	}
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	p := filepath.Join(factsDir(workDir), id+".facts")
	if _, err := os.Stat(p); err == nil {
		return id, nil
	}
	if err := atomicfile.Write(p, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("host facts: %w", err)
	}
	return id, nil
}

// LoadFacts reads the host facts SaveFacts stored under id. Errors name the
// file.
func LoadFacts(workDir, id string) ([]ResourceDescriptor, error) {
	p := filepath.Join(factsDir(workDir), id+".facts")
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("host facts %s: missing", p)
	}
	if err != nil {
		return nil, fmt.Errorf("host facts: %w", err)
	}
	var facts []ResourceDescriptor
	if err := json.Unmarshal(data, &facts); err != nil {
		return nil, fmt.Errorf("host facts %s: %w", p, err)
	}
	return facts, nil
}

// RunFacts gathers a run's host facts once and stores them: the hook a
// run calls as each step ends (from several goroutines with -j) and once
// more for the record. Create it with NewRunFacts.
type RunFacts struct {
	gather  func(context.Context) []ResourceDescriptor
	workDir string
	once    sync.Once
	id      string
	err     error
}

// NewRunFacts returns a RunFacts that calls gather at most once.
func NewRunFacts(workDir string, gather func(context.Context) []ResourceDescriptor) *RunFacts {
	return &RunFacts{gather: gather, workDir: workDir}
}

// ID gathers and stores the facts on the first call and returns their ID;
// later calls wait for the first one and return its result.
func (f *RunFacts) ID(ctx context.Context) (string, error) {
	f.once.Do(func() { f.id, f.err = SaveFacts(f.workDir, f.gather(ctx)) })
	return f.id, f.err
}
