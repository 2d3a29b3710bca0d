package runner

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/buildcache"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/verify"
)

// restorer restores the components of one run.
type restorer struct {
	s       *Session
	pr      progress.Printer
	stores  []buildcache.Store
	trusted []ed25519.PublicKey
	run     func(context.Context, *plan.Step) error
	store   *state.Store

	mu sync.Mutex
	// later are the components the restore before the run left because
	// something they need is built in it; each is looked up once, when
	// the first of its steps that waits for another component is about
	// to run (restoreStep).
	later map[string]*cacheComponent
	// skip are the steps restored during the run, which the scheduler
	// then finds done.
	skip map[string]bool
	// ran are the steps run before the run proper (restored components'
	// verify steps), for its summary and record.
	ran []string
}

// lookup is cacheLookup in the stores that answered so far: a store that
// is down or slow costs the run one timeout, not one per component.
func (r *restorer) lookup(ctx context.Context, c *cacheComponent) (*found, []string) {
	r.mu.Lock()
	stores := r.stores
	r.mu.Unlock()
	f, why, down := cacheLookup(ctx, c, stores, r.trusted, lookupTimeout)
	if len(down) > 0 {
		r.mu.Lock()
		r.stores = without(r.stores, down)
		r.mu.Unlock()
		for _, st := range down {
			r.pr.Printf("warning: %s is not asked again in this run", st)
		}
	}
	return f, why
}

// without is stores less those in drop.
func without(stores, drop []buildcache.Store) []buildcache.Store {
	var out []buildcache.Store
	for _, st := range stores {
		if !slices.Contains(drop, st) {
			out = append(out, st)
		}
	}
	return out
}

// entry is the index of c's first build step that depends on another
// component (0 when none): when it is about to run, everything c needs is
// done, and the steps before it (its fetch) are c's own.
func (c *cacheComponent) entry() int {
	for i, st := range c.build {
		for _, d := range st.Deps {
			if !slices.ContainsFunc(c.build, func(o *plan.Step) bool { return o.ID == d }) {
				return i
			}
		}
	}
	return 0
}

// restoreStep is the scheduler's hook before it runs st (Options.RestoreStep):
// a step restored during the run is done; the entry step of a component
// left for later is the moment to look it up, and when it is restored
// from there on, the step is done too. Its error is the work dir's.
func (r *restorer) restoreStep(ctx context.Context, st *plan.Step) (bool, error) {
	r.mu.Lock()
	if r.skip[st.ID] {
		r.mu.Unlock()
		return true, nil
	}
	c := r.later[st.Component]
	if c == nil || c.build[c.entry()] != st {
		r.mu.Unlock()
		return false, nil
	}
	delete(r.later, st.Component) // once
	r.mu.Unlock()
	f, why := r.lookup(ctx, c)
	if f == nil {
		for _, w := range why {
			if !strings.HasPrefix(w, "not in ") {
				r.pr.Printf("%s: not restored: %s; building it", c.name, w)
			}
		}
		return false, nil
	}
	from := c.entry()
	ok, err := r.restore(ctx, c, f, from)
	if err != nil || !ok {
		return false, err
	}
	r.mu.Lock()
	for _, o := range c.build[from+1:] {
		r.skip[o.ID] = true
	}
	r.mu.Unlock()
	return true, nil
}

// restoreAll restores, in plan order, each selected component that is
// not done and whose needs are ready. It returns how many it restored
// out of how many it looked up; its error is only one that must stop the
// run (the work dir cannot be written).
func (r *restorer) restoreAll(ctx context.Context, sts []*Status, sel Selection) (n, tried int, err error) {
	res, err := sel.resolve(r.s.plan)
	if err != nil {
		return 0, 0, nil // decide reports it
	}
	byID := index(sts)
	ready := map[string]bool{}
	for _, c := range cacheComponents(r.s.plan) {
		if allDone(c.build, byID) {
			ready[c.name] = allDone(c.steps(), byID)
			continue
		}
		if !selected(c, res) {
			continue
		}
		if notReady(c, ready) != "" {
			// A need is built in this run: try when its turn comes
			// (RestoreStep).
			r.later[c.name] = c
			continue
		}
		tried++
		f, why := r.lookup(ctx, c)
		if f == nil {
			for _, w := range why {
				if !strings.HasPrefix(w, "not in ") {
					r.pr.Printf("%s: not restored: %s; building it", c.name, w)
				}
			}
			continue
		}
		ok, err := r.restore(ctx, c, f, 0)
		if err != nil {
			return n, tried, err
		}
		if ok {
			n++
			ready[c.name] = true
		}
	}
	return n, tried, nil
}

// selected says whether the run's selection covers one of c's steps and
// forces none of them: --force means build it here.
func selected(c *cacheComponent, res *resolved) bool {
	covered := false
	for _, st := range c.steps() {
		if res.forced[st.ID] {
			return false
		}
		covered = covered || res.selected[st.ID]
	}
	return covered
}

// restore restores c from f, the steps of c.build from index from on
// (the steps before it are done), and, before the run (from is 0), runs
// its verify step; during the run the scheduler runs it. ok says it is
// done; a restore that failed for a reason of the cache's (a damaged
// archive, a tree hash that differs, a registry gone mid-download, a
// verify step that finds a difference) is a line and ok false, the
// component left to be built. err is for a work dir that cannot be
// written.
func (r *restorer) restore(ctx context.Context, c *cacheComponent, f *found, from int) (ok bool, err error) {
	start := time.Now()
	if err := r.forget(c, from); err != nil {
		return false, err
	}
	gate := c.build[from]
	if err := r.store.SaveAttempt(state.NewAttempt(gate.ID, state.NewBuildID(), LogPath(r.s.plan.WorkDir, gate.ID))); err != nil {
		return false, err
	}
	snaps, err := r.place(ctx, c, f)
	if err != nil {
		r.pr.Printf("%s: not restored from %s: %v; building it", c.name, f.store, err)
		// Its checkpoints are gone: the component is simply not done.
		return false, r.store.RemoveAttempt(gate.ID)
	}
	if err := r.checkpoint(c, f, snaps, from); err != nil {
		return false, err
	}
	r.pr.Printf("restored %s from %s (signed by %s, %.1f MB) in %s", c.name, f.store, f.rec.Signer[:16],
		float64(f.rec.Archive.Size)/1e6, progress.Round(time.Since(start)))
	if c.verify == nil || from > 0 {
		return true, nil
	}
	err = r.run(ctx, c.verify)
	r.mu.Lock()
	r.ran = append(r.ran, c.verify.ID)
	r.mu.Unlock()
	var mm *verify.MismatchError
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.As(err, &mm):
		r.pr.Printf("%s: the build restored from %s does not verify (%v): building it here instead", c.name, f.store, err)
		return false, r.forget(c, 0)
	}
	// Not the build's fault (the official artifact could not be
	// fetched): the run tries the verify step again and says why.
	r.pr.Printf("%s: restored, but its verify step failed: %v", c.name, err)
	return false, nil
}

// forget removes the checkpoints of c's steps from index from on, last
// first, so that a kill halfway leaves a prefix of them (an ordinary
// state).
func (r *restorer) forget(c *cacheComponent, from int) error {
	steps := c.steps()
	for i := len(steps) - 1; i >= from; i-- {
		if err := r.store.Remove(steps[i].ID); err != nil {
			return fmt.Errorf("step %s: %w", steps[i].ID, err)
		}
	}
	return nil
}

// place downloads c's archive, unpacks it into the staging dir, checks
// every tree's hash and renames the trees into place. It returns each
// tree's snapshot (by absolute path) as it was checked. Errors say what
// did not match.
func (r *restorer) place(ctx context.Context, c *cacheComponent, f *found) (map[string]*treehash.Snapshot, error) {
	p := r.s.plan
	want, err := c.trees(p)
	if err != nil {
		return nil, err
	}
	for _, t := range f.rec.Trees {
		if !slices.Contains(want, t.Path) {
			return nil, fmt.Errorf("the record has a tree %s, which is not one of %s's (%s)", t.Path, c.name, strings.Join(want, ", "))
		}
	}
	tmp := filepath.Join(p.WorkDir, restoreDir, c.name)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	archive := filepath.Join(tmp, "archive.tar.zst")
	dctx, cancel := context.WithTimeout(ctx, transferTimeout(f.rec.Archive.Size))
	defer cancel()
	if err := buildcache.Download(dctx, f.store, f.rec.Archive, archive); err != nil {
		return nil, err
	}
	staged := filepath.Join(tmp, "staged")
	a, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	err = buildcache.Unpack(ctx, a, staged, want)
	a.Close()
	if err != nil {
		return nil, err
	}
	snaps := map[string]*treehash.Snapshot{}
	for _, t := range f.rec.Trees {
		snap, err := treehash.Snap(filepath.Join(staged, filepath.FromSlash(t.Path)), nil)
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", t.Path, err)
		}
		if snap.Hash != t.Hash {
			return nil, fmt.Errorf("tree %s unpacked to %s, not %s as its signed record says", t.Path, short(snap.Hash), short(t.Hash))
		}
		snaps[t.Path] = snap
	}
	old := filepath.Join(tmp, "old")
	for i, t := range f.rec.Trees {
		dst := filepath.Join(p.WorkDir, filepath.FromSlash(t.Path))
		if _, err := os.Lstat(dst); err == nil {
			if err := os.MkdirAll(old, 0o755); err != nil {
				return nil, err
			}
			if err := os.Rename(dst, filepath.Join(old, fmt.Sprint(i))); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(staged, filepath.FromSlash(t.Path)), dst); err != nil {
			return nil, err
		}
	}
	out := map[string]*treehash.Snapshot{}
	for _, t := range f.rec.Trees {
		// The stat fingerprints the checkpoints keep are of the trees in
		// place (a rename changes the root's ctime); only stat calls.
		dst := filepath.Join(p.WorkDir, filepath.FromSlash(t.Path))
		if out[dst], err = treehash.Snap(dst, snaps[t.Path]); err != nil {
			return nil, err
		}
	}
	return out, syncFileSystems([]string{p.WorkDir})
}

// checkpoint writes the checkpoints of c's build steps from index from
// on, marked restored: the last step's first and the gate's (c.build[from],
// whose attempt kept the component from counting as done) last.
func (r *restorer) checkpoint(c *cacheComponent, f *found, snaps map[string]*treehash.Snapshot, from int) error {
	p := r.s.plan
	byStep := map[string]buildcache.Step{}
	for _, rs := range f.rec.Steps {
		byStep[rs.ID] = rs
	}
	builds := map[string]string{}
	for _, st := range c.build[from:] {
		builds[st.ID] = state.NewBuildID()
	}
	restored := &state.Restored{From: f.store.String(), Key: f.rec.Key, Signer: f.rec.Signer, At: time.Now().UTC()}
	for i := len(c.build) - 1; i >= from; i-- {
		st := c.build[i]
		rs := byStep[st.ID]
		now := time.Now().UTC()
		logPath := LogPath(p.WorkDir, st.ID)
		cp := &state.Checkpoint{Step: st.ID, Signature: st.Signature, Inputs: st.Inputs, Build: builds[st.ID],
			Deps: map[string]string{}, Started: now, Finished: now, Seconds: rs.Seconds, CPUSeconds: rs.CPUSeconds,
			Record: rs.Record, Log: logPath, Restored: restored}
		for _, d := range st.Deps {
			if b, ok := builds[d]; ok {
				cp.Deps[d] = b
				continue
			}
			dcp, err := r.store.Load(d)
			if err != nil || dcp == nil {
				return fmt.Errorf("step %s: checkpoint of upstream %s vanished: %v", st.ID, d, err)
			}
			cp.Deps[d] = dcp.Build
		}
		trees := &state.Trees{Build: cp.Build, Snapshots: map[string]*treehash.Snapshot{}}
		for _, o := range st.Outputs {
			snap := snaps[o]
			if snap == nil {
				var err error
				if snap, err = treehash.Snap(o, nil); err != nil {
					return fmt.Errorf("step %s: output %s: %w", st.ID, o, err)
				}
			}
			if cp.Outputs == nil {
				cp.Outputs, cp.Subjects = map[string]string{}, map[string]map[string]string{}
			}
			cp.Outputs[o] = snap.Hash
			cp.OutputTrees = append(cp.OutputTrees, state.Tree{Path: o, Hash: snap.Hash, Stat: snap.Stat})
			cp.Subjects[o] = subject(snap)
			trees.Snapshots[o] = snap
		}
		if snap := snaps[st.SrcDir]; snap != nil && st.Kind != plan.KindFetch {
			cp.Source = &state.Tree{Path: st.SrcDir, Hash: snap.Hash, Stat: snap.Stat}
			trees.Snapshots[st.SrcDir] = snap
		}
		if err := writeRestoredLog(logPath, st, f); err != nil {
			return err
		}
		if len(trees.Snapshots) > 0 {
			if err := r.store.SaveTrees(st.ID, trees); err != nil {
				return err
			}
		}
		if err := r.store.Save(cp); err != nil {
			return fmt.Errorf("step %s: save checkpoint: %w", st.ID, err)
		}
	}
	return r.store.RemoveAttempt(c.build[from].ID)
}

// writeRestoredLog leaves in a restored step's log where it came from.
func writeRestoredLog(p string, st *plan.Step, f *found) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	msg := fmt.Sprintf("# bootstrap step %s (%s) restored %s from %s\n# component key %s, record signed by key %s\n# built elsewhere; see the record's builder and steps\n",
		st.ID, st.Kind, time.Now().UTC().Format(time.RFC3339), f.store, f.rec.Key, f.rec.Signer)
	return os.WriteFile(p, []byte(msg), 0o644)
}
