package runner

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
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
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/sign"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/verify"
)

// How the shared build cache (runner/buildcache, docs/cache.md) enters a
// run.
//
// Before the run decides what to run, under the work dir's lock, each
// component in plan order whose build steps are not all done, and whose
// needs are all done (or were restored just before), is looked up in
// each --cache-from store by its key (buildcache.Key: its name and its
// build steps' signatures). A record is used only when a trusted key
// signed it, the archive's sha256 is the one signed, and every unpacked
// tree has its signed tree hash; then the trees are renamed into place
// and the component's checkpoints written, marked restored. Its verify
// step, if any, then runs as in any run: that trust does not depend on
// who signed the cache. Anything wrong is a line saying what, and the
// component is built instead.
//
// A SIGKILL at any instant of a restore must not leave a component taken
// for done that is not what its record says. The order: the component's
// checkpoints are removed; an attempt is recorded for its first step (its
// "gate"), so that until the end that step is "interrupted" and the whole
// component runs again; the archive is downloaded and unpacked into
// <work>/.cache-restore/<comp>, checked, and renamed into place; then the
// checkpoints are written last step first and the gate's last of all.
//
// After the run, with --cache-to, every component whose steps are all
// done and that was built here (not restored) is pushed unless the store
// already has its key: a registry that is down, slow or refuses is a
// warning, never the run's failure.

// CacheConfig says which shared build caches a session uses.
type CacheConfig struct {
	// From are the stores restored from, in order (--cache-from).
	From []string
	// To is the store finished components are pushed to (--cache-to).
	To string
	// Trust are public key files whose signatures are trusted
	// (--trust), besides bootstrap's own key.
	Trust []string
}

// Timeouts of the cache's network calls: a lookup is small and must not
// hold up a plan; a transfer gets a minute plus the time its size takes
// at 512 KiB/s.
const (
	lookupTimeout     = 15 * time.Second
	planLookupTimeout = 5 * time.Second
)

func transferTimeout(size int64) time.Duration {
	return time.Minute + time.Duration(size/(512<<10))*time.Second
}

// restoreDir is where restores stage their trees.
const restoreDir = ".cache-restore"

// cacheComponent is a component as the cache sees it.
type cacheComponent struct {
	name string
	// build are its steps up to its last build step; verify its verify
	// step, nil when none.
	build  []*plan.Step
	verify *plan.Step
	// needs are the components it depends on.
	needs []string
}

// key is the component's key in the cache.
func (c *cacheComponent) key() string {
	sigs := make([]string, len(c.build))
	for i, st := range c.build {
		sigs[i] = st.Signature
	}
	return buildcache.Key(c.name, sigs)
}

// steps are all its steps.
func (c *cacheComponent) steps() []*plan.Step {
	if c.verify == nil {
		return c.build
	}
	return append(slices.Clip(c.build), c.verify)
}

// cacheComponents lists the plan's components in plan order.
func cacheComponents(p *plan.Plan) []*cacheComponent {
	var out []*cacheComponent
	byName := map[string]*cacheComponent{}
	for _, st := range p.Steps {
		c := byName[st.Component]
		if c == nil {
			c = &cacheComponent{name: st.Component}
			byName[st.Component] = c
			out = append(out, c)
		}
		if st.Kind == plan.KindVerify {
			c.verify = st
		} else {
			c.build = append(c.build, st)
		}
		for _, d := range st.Deps {
			if up := p.Step(d); up != nil && up.Component != st.Component && !slices.Contains(c.needs, up.Component) {
				c.needs = append(c.needs, up.Component)
			}
		}
	}
	return out
}

// trees are the component's trees relative to the work dir: its source
// tree (when it has one), its build dir, and each declared output outside
// both. An output outside the work dir cannot be cached: the error says so.
func (c *cacheComponent) trees(p *plan.Plan) ([]string, error) {
	first, last := c.build[0], c.build[len(c.build)-1]
	var abs []string
	if p.Step(c.name+":patch") != nil {
		abs = append(abs, first.SrcDir)
	}
	abs = append(abs, first.BuildDir)
	for _, o := range last.Outputs {
		if !insideDir(first.SrcDir, o) && !insideDir(first.BuildDir, o) {
			abs = append(abs, o)
		}
	}
	out := make([]string, 0, len(abs))
	for _, a := range abs {
		rel, err := filepath.Rel(p.WorkDir, a)
		if err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("%s is outside the work dir: component %s cannot be cached", a, c.name)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out, nil
}

// insideDir reports whether p is dir or inside it.
func insideDir(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// trustedKeys are bootstrap's own public key (when it has one) and every
// --trust file. A --trust file that cannot be read is a *UsageError.
func (s *Session) trustedKeys() ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	if dir, err := sign.Dir(os.Getenv); err == nil {
		if pub, err := sign.LoadPublic(dir); err == nil {
			keys = append(keys, pub)
		}
	}
	for _, f := range s.cfg.BuildCache.Trust {
		pub, err := sign.ReadPublic(f)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("--trust: %w", err)}
		}
		keys = append(keys, pub)
	}
	return keys, nil
}

// openStores opens urls; a URL that is not a store is a *UsageError.
func openStores(urls []string) ([]buildcache.Store, error) {
	var out []buildcache.Store
	for _, u := range urls {
		st, err := buildcache.OpenStore(u, buildcache.Options{})
		if err != nil {
			return nil, &UsageError{Err: err}
		}
		out = append(out, st)
	}
	return out, nil
}

// found is a trusted record of a component, and the store it is in.
type found struct {
	rec   *buildcache.Verified
	store buildcache.Store
}

// cacheLookup finds the component's trusted record in the first store that has
// one. Each store that has none, or one that is not trusted, or cannot be
// asked, adds a line to why; the stores that could not be asked (down,
// slow, refusing) are in unreachable.
func cacheLookup(ctx context.Context, c *cacheComponent, stores []buildcache.Store, trusted []ed25519.PublicKey, timeout time.Duration) (f *found, why []string, unreachable []buildcache.Store) {
	key := c.key()
	for _, st := range stores {
		lctx, cancel := context.WithTimeout(ctx, timeout)
		env, err := st.Record(lctx, key)
		cancel()
		if errors.Is(err, buildcache.ErrNotFound) {
			why = append(why, "not in "+st.String())
			continue
		}
		if err != nil {
			why = append(why, fmt.Sprintf("%s cannot be asked: %v", st, err))
			unreachable = append(unreachable, st)
			continue
		}
		v, err := buildcache.Open(ctx, env, key, trusted)
		if err != nil {
			why = append(why, fmt.Sprintf("in %s, but %v", st, err))
			continue
		}
		return &found{rec: v, store: st}, why, unreachable
	}
	return nil, why, unreachable
}

// Restorable is what the cache can do for a component that is not done,
// for plan and explain.
type Restorable struct {
	Component string
	// From is the store it would be restored from, "" when none.
	From string
	// Signer is the ID of the key that signed its record.
	Signer string
	// Why says, when From is "", why not: one line per store.
	Why []string
	// After names a component it needs that the run builds: it is
	// restored once that is done.
	After string
}

// Restorable looks up, in the --cache-from stores, every component whose
// build steps are not all done, as a run would, each lookup bounded by a
// few seconds; a component that needs one the run builds is restored once
// that is built (After). It returns nil without stores.
func (s *Session) Restorable(ctx context.Context, sts []*Status) ([]Restorable, error) {
	if len(s.cfg.BuildCache.From) == 0 {
		return nil, nil
	}
	stores, err := openStores(s.cfg.BuildCache.From)
	if err != nil {
		return nil, err
	}
	trusted, err := s.trustedKeys()
	if err != nil {
		return nil, err
	}
	byID := index(sts)
	ready := map[string]bool{}
	var out []Restorable
	for _, c := range cacheComponents(s.plan) {
		if allDone(c.build, byID) {
			ready[c.name] = allDone(c.steps(), byID)
			continue
		}
		r := Restorable{Component: c.name, After: notReady(c, ready)}
		f, why, down := cacheLookup(ctx, c, stores, trusted, planLookupTimeout)
		stores = without(stores, down) // one wait per store, not one per component
		if f != nil {
			r.From, r.Signer = f.store.String(), f.rec.Signer
			ready[c.name] = true
		} else {
			r.Why = why
			if len(why) == 0 {
				r.Why = []string{"no --cache-from store answered"}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func allDone(steps []*plan.Step, byID map[string]*Status) bool {
	for _, st := range steps {
		if byID[st.ID].State != Done {
			return false
		}
	}
	return true
}

// notReady names a component c needs that is not ready, "" when all are.
func notReady(c *cacheComponent, ready map[string]bool) string {
	for _, n := range c.needs {
		if !ready[n] {
			return n
		}
	}
	return ""
}

// cacheHooks sets opts.Restore when the session restores from a cache:
// before the run, it restores what it can (see above), printing a line
// per component, loads the signing key and sets *started so that the run's
// record is written (it says what was restored) even when nothing else
// runs.
func (s *Session) cacheHooks(opts *Options, pr progress.Printer, rec *recording, started *time.Time) error {
	if len(s.cfg.BuildCache.From) == 0 {
		return nil
	}
	stores, err := openStores(s.cfg.BuildCache.From)
	if err != nil {
		return err
	}
	trusted, err := s.trustedKeys()
	if err != nil {
		return err
	}
	r := &restorer{s: s, pr: pr, stores: stores, trusted: trusted, store: state.Open(s.plan.WorkDir),
		later: map[string]*cacheComponent{}, skip: map[string]bool{}}
	opts.RestoreStep = r.restoreStep
	opts.Restore = func(ctx context.Context, sts []*Status, run func(context.Context, *plan.Step) error) (bool, error) {
		r.run = run
		n, tried, err := r.restoreAll(ctx, sts, opts.Selection)
		// Whatever was tried changed checkpoints (a failed restore
		// forgets the component's): the statuses are read again.
		if err != nil || n == 0 {
			return tried > 0, err
		}
		pr.Printf("restored %d of %d components from the cache", n, tried)
		if rec.key == nil {
			if rec.key, err = SigningKey(s.plan.WorkDir, s.cacheDir()); err != nil {
				return true, err
			}
		}
		if started.IsZero() {
			*started = time.Now()
		}
		return true, nil
	}
	return nil
}

// cacheDir is the session's cache dir, "" when there is none.
func (s *Session) cacheDir() string {
	d, _ := CacheDir(s.cfg.Cache)
	return d
}

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

// pushFinished pushes, after a run, every component built here whose
// steps are all done and which the --cache-to store lacks. Every problem
// is a warning on pr: a cache never fails a build.
func (s *Session) pushFinished(ctx context.Context, pr progress.Printer, key *sign.Key) {
	to := s.cfg.BuildCache.To
	if to == "" {
		return
	}
	stores, err := openStores([]string{to})
	if err != nil {
		pr.Printf("warning: --cache-to: %v", err)
		return
	}
	store := stores[0]
	if key == nil {
		if key, err = SigningKey(s.plan.WorkDir, s.cacheDir()); err != nil {
			pr.Printf("warning: not pushing to %s: %v", to, err)
			return
		}
	}
	sts, err := s.Statuses()
	if err != nil {
		pr.Printf("warning: not pushing to %s: %v", to, err)
		return
	}
	byID := index(sts)
	for _, c := range cacheComponents(s.plan) {
		if !allDone(c.steps(), byID) || byID[c.build[len(c.build)-1].ID].Checkpoint.Restored != nil {
			continue // not finished, or not built here: not ours to vouch for
		}
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		_, err := store.Record(lctx, c.key())
		cancel()
		if err == nil {
			continue
		}
		if !errors.Is(err, buildcache.ErrNotFound) {
			pr.Printf("warning: not pushing to %s: %v; the build goes on", to, err)
			return // down or refusing: one line, not one per component
		}
		start := time.Now()
		size, err := s.push(ctx, c, byID, store, key)
		if err != nil {
			pr.Printf("warning: push of %s to %s failed: %v; the build goes on", c.name, to, err)
			continue
		}
		pr.Printf("pushed %s to %s (%.1f MB) in %s", c.name, to, float64(size)/1e6, progress.Round(time.Since(start)))
	}
}

// push packs c's trees, signs its record and pushes both. It returns the
// archive's size.
func (s *Session) push(ctx context.Context, c *cacheComponent, byID map[string]*Status, store buildcache.Store, key *sign.Key) (int64, error) {
	p := s.plan
	trees, err := c.trees(p)
	if err != nil {
		return 0, err
	}
	last := byID[c.build[len(c.build)-1].ID].Checkpoint
	rec := &buildcache.Record{Component: c.name, Key: c.key(), Target: p.Target, Created: time.Now().UTC()}
	var packed []string
	for _, t := range trees {
		abs := filepath.Join(p.WorkDir, filepath.FromSlash(t))
		hash := last.Outputs[abs]
		switch {
		case last.Source != nil && last.Source.Path == abs:
			hash = last.Source.Hash // what status just held the tree to
		case hash == "":
			if _, err := os.Lstat(abs); err != nil {
				continue // a component that never wrote its build dir
			}
			if hash, err = treehash.Sum(abs); err != nil {
				return 0, err
			}
		}
		rec.Trees = append(rec.Trees, buildcache.Tree{Path: t, Hash: hash})
		packed = append(packed, t)
	}
	for _, st := range c.build {
		cp := byID[st.ID].Checkpoint
		if err := cp.DecodeInputs(); err != nil {
			return 0, err
		}
		rec.Steps = append(rec.Steps, buildcache.Step{ID: st.ID, Kind: string(st.Kind), Signature: cp.Signature, Inputs: cp.Inputs,
			Started: cp.Started, Finished: cp.Finished, Seconds: cp.Seconds, CPUSeconds: cp.CPUSeconds, Record: cp.Record})
	}
	if end := provenance.LoadStepEnd(p.WorkDir, last.Step, last.Build); end != nil && end.HostFacts != "" {
		if facts, err := provenance.LoadFacts(p.WorkDir, end.HostFacts); err == nil {
			rec.Builder, _ = json.Marshal(facts)
		}
	}
	dir := filepath.Join(p.WorkDir, restoreDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(dir, "push-"+c.name+"-*.tar.zst")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	err = buildcache.Pack(ctx, p.WorkDir, packed, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if rec.Archive, err = buildcache.FileDigest(f.Name(), buildcache.ArchiveMediaType); err != nil {
		return 0, err
	}
	env, err := buildcache.Sign(ctx, rec, key)
	if err != nil {
		return 0, err
	}
	pctx, cancel := context.WithTimeout(ctx, transferTimeout(rec.Archive.Size))
	defer cancel()
	return rec.Archive.Size, store.Push(pctx, rec.Key, env, rec.Archive, f.Name())
}
