package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/buildcache"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/sign"
)

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
	dir := filepath.Join(p.WorkDir, pushDir)
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
