package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/state"
)

// What a checkpoint promises about bytes, and how status holds it to that.
//
// Outputs: the last step of a component snapshots each declared output
// (tree hash, and each entry's size, mtime, ctime, inode and mode) into its
// checkpoint. Status lstat-walks the output and compares the stat
// fingerprint; only when it differs are the files whose stat changed hashed
// again, and a different tree hash makes the step stale, "changed since its
// checkpoint", naming the first changed file.
//
// The patched source tree: a component's own steps legitimately write into
// it (go:make's make.bash puts pkg/ and bin/ into the Go tree), so the tree
// is not held to what the patch step left but to what the component's
// LAST step left. Every step of a component with a source (patch and
// later) snapshots the tree when it ends; the patch step is done only while
// the tree still matches the latest snapshot of an unbroken chain of
// checkpoints from the patch step on (a later step whose checkpoint
// predates the current patch run recorded an older tree and does not
// count). While a later step of the component has an attempt on record
// (running, failed, interrupted) the tree is that step's work in progress
// and is not checked: resuming after a crash must not redo the patch. A
// changed tree makes the patch step stale, so run re-patches a fresh tree
// and reruns everything after it.

// snapshotTrees fills a checkpoint's Outputs, OutputTrees, Subjects and
// Source, saves the trees file they refer to, and syncs the file systems
// holding them, so that a checkpoint is never on disk before the bytes it
// vouches for. It returns an error naming the output or tree.
func (s *scheduler) snapshotTrees(st *plan.Step, cp *state.Checkpoint) error {
	trees := &state.Trees{Build: cp.Build, Snapshots: map[string]*treehash.Snapshot{}}
	var synced []string
	for _, o := range st.Outputs {
		snap, err := treehash.Snap(o, nil)
		if err != nil {
			return fmt.Errorf("declared output %s: %w", o, err)
		}
		if cp.Outputs == nil {
			cp.Outputs, cp.Subjects = map[string]string{}, map[string]map[string]string{}
		}
		cp.Outputs[o] = snap.Hash
		cp.OutputTrees = append(cp.OutputTrees, state.Tree{Path: o, Hash: snap.Hash, Stat: snap.Stat})
		cp.Subjects[o] = subject(snap)
		trees.Snapshots[o] = snap
		synced = append(synced, o)
	}
	if s.hasSourceTree(st) {
		prev, err := s.previousSource(st)
		if err != nil {
			return err
		}
		snap, err := treehash.Snap(st.SrcDir, prev)
		if err != nil {
			return fmt.Errorf("source tree of %s: %w", st.Component, err)
		}
		cp.Source = &state.Tree{Path: st.SrcDir, Hash: snap.Hash, Stat: snap.Stat}
		trees.Snapshots[st.SrcDir] = snap
	}
	if err := syncFileSystems(append(synced, s.p.WorkDir)); err != nil {
		return err
	}
	if len(trees.Snapshots) == 0 {
		return nil
	}
	return s.store.SaveTrees(st.ID, trees)
}

// subject is an output's in-toto digest set: the sha256 of a regular
// file's bytes, the tree hash of anything else.
func subject(snap *treehash.Snapshot) map[string]string {
	if len(snap.Entries) == 1 && snap.Entries[0].Type == "f" {
		return map[string]string{"sha256": snap.Entries[0].Digest}
	}
	return map[string]string{state.DigestTreeHash: trimAlgo(snap.Hash)}
}

func trimAlgo(h string) string {
	if len(h) > 7 && h[:7] == "sha256:" {
		return h[7:]
	}
	return h
}

// hasSourceTree says whether the step is the patch step or a later step of
// a component that has a source tree: those record the tree as they left
// it.
func (s *scheduler) hasSourceTree(st *plan.Step) bool {
	return st.Kind != plan.KindFetch && s.p.Step(st.Component+":patch") != nil
}

// previousSource is the snapshot of the source tree that the step's
// predecessor in its component left, so that only what this step touched
// is read again; nil when there is none.
func (s *scheduler) previousSource(st *plan.Step) (*treehash.Snapshot, error) {
	for _, d := range st.Deps {
		dep := s.p.Step(d)
		if dep == nil || dep.Component != st.Component {
			continue
		}
		cp, err := s.store.Load(d)
		if err != nil || cp == nil || cp.Source == nil {
			return nil, err
		}
		return s.store.LoadTrees(d, cp.Build, st.SrcDir)
	}
	return nil, nil
}

// syncFileSystems makes everything written on the file systems holding
// paths durable: one syncfs(2) per file system rather than an fsync of
// each of the 10,000 files a Go tree has. A path that does not exist is
// skipped.
func syncFileSystems(paths []string) error {
	seen := map[uint64]bool{}
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("sync %s: %w", p, err)
		}
		if seen[st.Dev] {
			continue
		}
		seen[st.Dev] = true
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			p = filepath.Dir(p) // a directory can always be opened to name its file system
		}
		if err := syncfs(p); err != nil {
			return err
		}
	}
	return nil
}

// syncfs calls syncfs(2) on the file system holding p; where the kernel
// lacks it, sync(2) does the same for every file system.
func syncfs(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		if errors.Is(err, syscall.ENOSYS) {
			unix.Sync()
			return nil
		}
		return fmt.Errorf("sync the file system of %s: %w", filepath.Clean(p), err)
	}
	return nil
}
