// Package state keeps the checkpoints of a work dir: one JSON file per step,
// written only after the step succeeded, atomically (temp file, fsync,
// rename, fsync of the directory), so that a run killed at any instant leaves
// either the old checkpoint, the new one, or none, never half of one.
// Beside each checkpoint an attempt file (attempt.go) says how the last try
// at a step that did not succeed ended: failed, still running, or
// interrupted.
package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
)

// Checkpoint records that a step finished with a given signature.
type Checkpoint struct {
	// Step is the step's ID, "component:step".
	Step string `json:"step"`
	// Signature is the step's signature when it ran.
	Signature string `json:"signature"`
	// Inputs are what the signature was computed over, kept so that
	// `bootstrap explain` can say which one changed.
	Inputs map[string]string `json:"inputs"`
	// Build is a unique ID of this run of the step. Steps record the Build
	// of each dependency they ran against; a dependency that ran again has
	// a new Build, which makes its dependents stale.
	Build string `json:"build"`
	// Deps maps each dependency's ID to its Build at the time.
	Deps map[string]string `json:"deps,omitempty"`
	// Started and Finished bound the run; Seconds is its duration, the ETA
	// of the next run of the same step.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`
	// CPUSeconds is the CPU time (user and system) the step's command and
	// its descendants used; 0 for steps that are bootstrap's own code.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// Exit is the exit status of the step's command (always 0: failures
	// are not checkpointed).
	Exit int `json:"exit"`
	// Outputs maps each declared output path to its tree hash
	// (treehash.Sum) when the step ended.
	Outputs map[string]string `json:"outputs,omitempty"`
	// OutputTrees are the declared outputs as the step left them, each
	// with the stat fingerprint that lets status see "unchanged" without
	// reading a byte; nil in checkpoints written before they were kept
	// (status then only checks that the outputs exist).
	OutputTrees []Tree `json:"output_trees,omitempty"`
	// Source is the component's source tree as this step left it: set by
	// the patch step and every later step of a component that has a
	// source. The component's latest such record is what its tree must
	// still match for the patch step to count as done.
	Source *Tree `json:"source,omitempty"`
	// Subjects are the declared outputs' digests taken when the step
	// ended, as in-toto digest sets, for the provenance record: a regular
	// file has {"sha256": hex of its bytes}, anything else (a tree, a
	// symlink) {DigestTreeHash: hex of its tree hash}.
	Subjects map[string]map[string]string `json:"subjects,omitempty"`
	// Record holds what the step wants to remember, e.g. how patches
	// applied.
	Record json.RawMessage `json:"record,omitempty"`
	// Log is the path of the step's log.
	Log string `json:"log"`
	// Restored is set when the step was not run here but restored from a
	// shared build cache (runner/buildcache): from where, and whose key
	// vouched for it.
	Restored *Restored `json:"restored,omitempty"`

	// rawInputs holds Inputs as read from disk until DecodeInputs needs
	// them: only a changed step's inputs are ever looked at, and decoding
	// all of them is most of the cost of a no-op run.
	rawInputs json.RawMessage
}

// Restored says where a restored step came from.
type Restored struct {
	// From is the cache's URL.
	From string `json:"from"`
	// Key is the component's key in that cache.
	Key string `json:"key"`
	// Signer is the ID of the trusted key that signed its record.
	Signer string `json:"signer"`
	// At is when it was restored.
	At time.Time `json:"at"`
}

// DigestTreeHash is the digest-set key of a tree hash in Subjects (the
// same name the provenance record uses).
const DigestTreeHash = "bootstrapTreeSha256"

// Tree is a file or tree as a step left it: its tree hash and its stat
// fingerprint (treehash.StatSum). The entries behind both are in the
// step's trees file (Store.LoadTrees), read only when the fingerprint
// differs.
type Tree struct {
	Path string `json:"path"`
	Hash string `json:"hash"`
	Stat string `json:"stat"`
}

// diskCheckpoint reads a checkpoint with its inputs left undecoded.
type diskCheckpoint struct {
	*Checkpoint
	Inputs json.RawMessage `json:"inputs"`
}

// CPU is CPUSeconds as a duration.
func (cp *Checkpoint) CPU() time.Duration { return time.Duration(cp.CPUSeconds * float64(time.Second)) }

// DecodeInputs fills Inputs from the checkpoint file's content.
func (cp *Checkpoint) DecodeInputs() error {
	if cp.Inputs != nil || cp.rawInputs == nil {
		return nil
	}
	if err := json.Unmarshal(cp.rawInputs, &cp.Inputs); err != nil {
		return fmt.Errorf("checkpoint of %s: inputs: %w", cp.Step, err)
	}
	return nil
}

// Store reads and writes checkpoints under <work>/state.
type Store struct {
	dir string
}

// Open returns the store of a work dir. Nothing is created until Save.
func Open(workDir string) *Store { return &Store{dir: filepath.Join(workDir, "state")} }

// Path is the checkpoint file of a step.
func (s *Store) Path(id string) string {
	comp, step, _ := strings.Cut(id, ":")
	return filepath.Join(s.dir, comp, step+".json")
}

// CorruptError is a checkpoint file that exists but cannot be read. It is an
// error rather than "not done", so that a damaged state is seen, not papered
// over.
type CorruptError struct {
	Path string
	Err  error
	// What names the file's role: "checkpoint" when empty, or "attempt
	// file".
	What string
}

func (e *CorruptError) Error() string {
	what := e.What
	if what == "" {
		what = "checkpoint"
	}
	return fmt.Sprintf("%s %s is unreadable (%v): remove it to run the step again", what, e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Load returns the checkpoint of a step, nil when there is none, and a
// *CorruptError when the file cannot be parsed.
func (s *Store) Load(id string) (*Checkpoint, error) {
	p := s.Path(id)
	var cp Checkpoint
	disk := diskCheckpoint{Checkpoint: &cp}
	if found, err := readJSON(p, &disk, ""); !found || err != nil {
		return nil, err
	}
	cp.rawInputs = disk.Inputs
	if cp.Step != id || cp.Signature == "" || cp.Build == "" {
		return nil, &CorruptError{Path: p, Err: errors.New("it does not describe this step")}
	}
	return &cp, nil
}

// readJSON decodes the state file p into v: found is false when there is
// no file; a file that cannot be read says so, one that cannot be parsed
// is a *CorruptError with role what ("" for a checkpoint).
func readJSON(p string, v any, what string) (found bool, err error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		if what == "" {
			what = "checkpoint"
		}
		return false, fmt.Errorf("read %s: %w", what, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, &CorruptError{Path: p, Err: err, What: what}
	}
	return true, nil
}

// Save writes a checkpoint atomically and durably.
func (s *Store) Save(cp *Checkpoint) error {
	data, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.Path(cp.Step), append(data, '\n'))
}

// Remove deletes a step's checkpoint, its trees file and its last attempt durably, before
// the step runs again (a step being rerun must not look done if the run is
// killed halfway) and when `bootstrap clean` forgets it.
func (s *Store) Remove(id string) error {
	p := s.Path(id)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove checkpoint: %w", err)
	}
	if err := s.RemoveAttempt(id); err != nil {
		return err
	}
	if err := os.Remove(s.TreesPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove trees file: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

// NewBuildID returns a fresh unique ID for one run of a step.
func NewBuildID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// WriteFileAtomic replaces path with data: temp file in the same directory,
// fsync, rename, fsync of the directory. Readers see the old content or the
// new, never a mix, even after a power loss. A new file is 0644:
// checkpoints are for everyone to read.
func WriteFileAtomic(path string, data []byte) error {
	return atomicfile.Write(path, data, 0o644)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
