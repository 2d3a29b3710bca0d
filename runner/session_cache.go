package runner

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/buildcache"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/sign"
	"github.com/porterkit/bootstrap/runner/state"
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

// restoreDir is where restores stage their trees, under the work dir's
// lock (what a killed run left there is removed by the next); pushDir
// where pushes pack archives, after the lock is released.
const (
	restoreDir = ".cache-restore"
	pushDir    = ".cache-push"
)

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

// cacheSources opens the --cache-from stores and reads the trusted keys;
// nil stores without --cache-from.
func (s *Session) cacheSources() ([]buildcache.Store, []ed25519.PublicKey, error) {
	if len(s.cfg.BuildCache.From) == 0 {
		return nil, nil, nil
	}
	stores, err := openStores(s.cfg.BuildCache.From)
	if err != nil {
		return nil, nil, err
	}
	trusted, err := s.trustedKeys()
	if err != nil {
		return nil, nil, err
	}
	return stores, trusted, nil
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
	stores, trusted, err := s.cacheSources()
	if err != nil || stores == nil {
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

// cacheHooks sets opts.Restore and opts.RestoreStep when the session
// restores from a cache, and returns the restorer (nil when it does not):
// before the run, it restores what it can (see above), printing a line
// per component, loads the signing key and sets *started so that the run's
// record is written (it says what was restored) even when nothing else
// runs.
func (s *Session) cacheHooks(opts *Options, pr progress.Printer, rec *recording, started *time.Time) (*restorer, error) {
	if to := s.cfg.BuildCache.To; to != "" {
		// A mistyped --cache-to is a usage error now, not a warning
		// after hours of building.
		if _, err := openStores([]string{to}); err != nil {
			return nil, err
		}
	}
	stores, trusted, err := s.cacheSources()
	if err != nil || stores == nil {
		return nil, err
	}
	r := &restorer{s: s, pr: pr, stores: stores, trusted: trusted, store: state.Open(s.plan.WorkDir),
		later: map[string]*cacheComponent{}, skip: map[string]bool{}}
	opts.RestoreStep = r.restoreStep
	opts.Restore = func(ctx context.Context, sts []*Status, run func(context.Context, *plan.Step) error) (bool, error) {
		r.run = run
		if err := os.RemoveAll(filepath.Join(s.plan.WorkDir, restoreDir)); err != nil {
			return false, fmt.Errorf("remove a killed restore's leftovers: %w", err)
		}
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
	return r, nil
}

// ranBefore adds to a run's summary the steps its restores ran before
// it (their verify steps).
func (r *restorer) ranBefore(sum *Summary) {
	if r == nil || sum == nil || len(r.ran) == 0 {
		return
	}
	sum.Ran = append(slices.Clip(r.ran), sum.Ran...)
	for _, id := range r.ran {
		sum.Why[id] = []string{"its component was restored from the cache"}
	}
}

// cacheDir is the session's cache dir, "" when there is none.
func (s *Session) cacheDir() string {
	d, _ := CacheDir(s.cfg.Cache)
	return d
}
