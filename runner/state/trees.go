package state

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

// Trees holds the full snapshots (every entry with its stat fields and
// digest) behind a checkpoint's Tree records. It lives beside the
// checkpoint as <work>/state/<comp>/<step>.trees, out of the checkpoint
// itself: a Go tree has 15,000 entries, and every no-op run reads every
// checkpoint, while this file is read only when a fingerprint differs (to
// name the first changed file and to hash only the files whose stat
// changed) and by the next step of the component (to re-hash only what it
// touched).
type Trees struct {
	// Build ties the file to one run of the step: a trees file whose Build
	// is not its checkpoint's is not used.
	Build string `json:"build"`
	// Snapshots are keyed by the tree's path.
	Snapshots map[string]*treehash.Snapshot `json:"snapshots"`
}

// TreesPath is a step's trees file.
func (s *Store) TreesPath(id string) string {
	comp, step, _ := strings.Cut(id, ":")
	return filepath.Join(s.dir, comp, step+".trees")
}

// SaveTrees writes a step's trees file atomically; it is written before
// the checkpoint that refers to it.
func (s *Store) SaveTrees(id string, t *Trees) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(s.TreesPath(id), data); err != nil {
		return fmt.Errorf("step %s: save trees file: %w", id, err)
	}
	return nil
}

// LoadTrees returns the snapshot of path kept by the step's run build, nil
// when there is none (no file, another build's, or that path not in it): a
// caller then hashes the whole tree. An unreadable file is an error naming
// it.
func (s *Store) LoadTrees(id, build, path string) (*treehash.Snapshot, error) {
	var t Trees
	if found, err := readJSON(s.TreesPath(id), &t, "trees file"); !found || err != nil {
		return nil, err
	}
	if t.Build != build {
		return nil, nil
	}
	return t.Snapshots[path], nil
}
