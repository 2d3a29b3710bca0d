package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
	"github.com/porterkit/bootstrap/runner/source/gitsrc"
	"github.com/porterkit/bootstrap/runner/source/gomod"
	"github.com/porterkit/bootstrap/runner/source/vcs"
	"github.com/porterkit/bootstrap/runner/verify"
)

// SourceConfig says where sources come from.
type SourceConfig struct {
	// Mirrors are dirs or URLs tried before a source's own URLs.
	Mirrors []string
	// Offline forbids any network access.
	Offline bool
	// StallTimeout, Retries and RetryWait tune downloads (fetch.Options);
	// zero values mean the defaults.
	StallTimeout time.Duration
	Retries      int
	RetryWait    time.Duration
}

// NewSources builds the fetchers for every source kind, all sharing the
// cache dir. progress receives the byte progress of downloads (nil for
// none). BOOTSTRAP_GIT names the git program; GOPROXY is read as the go
// command reads it (off means the cache only).
func NewSources(cache string, c SourceConfig, progress io.Writer) source.Set {
	urls := fetch.New(fetch.Options{
		CacheDir: cache, Mirrors: c.Mirrors, Offline: c.Offline, Progress: progress,
		StallTimeout: c.StallTimeout, Retries: c.Retries, Backoff: c.RetryWait,
	})
	return source.Set{
		"dir":   source.Dir{},
		"url":   urls,
		"git":   gitsrc.New(gitsrc.Options{CacheDir: cache, Mirrors: c.Mirrors, Offline: c.Offline, Git: os.Getenv("BOOTSTRAP_GIT")}),
		"svn":   vcs.NewSVN(vcs.Options{CacheDir: cache, Offline: c.Offline}),
		"hg":    vcs.NewHG(vcs.Options{CacheDir: cache, Offline: c.Offline}),
		"gomod": gomod.New(gomod.Options{CacheDir: cache, Proxy: os.Getenv("GOPROXY"), Offline: c.Offline, HTTP: urls}),
	}
}

// Sources are the session's fetchers (see NewSources).
func (s *Session) Sources(progress io.Writer) (source.Set, error) {
	cache, err := CacheDir(s.cfg.Cache)
	if err != nil {
		return nil, err
	}
	return NewSources(cache, s.cfg.Sources, progress), nil
}

// verifier is the run's verify hook: gomod: references come through the
// same fetcher (and cache) as gomod sources.
func verifier(sources source.Set, cache string) func(context.Context, *plan.Verification, io.Writer) (any, error) {
	vr := verify.Verifier{CacheDir: cache}
	if m, ok := sources["gomod"].(*gomod.Fetcher); ok {
		vr.Modules = m
	}
	return func(ctx context.Context, v *plan.Verification, log io.Writer) (any, error) {
		res, err := vr.Verify(ctx, v, log)
		if err != nil {
			return nil, err
		}
		return res, nil
	}
}

// Fetch fetches every source of the plan (and every official artifact a
// verify step compares with), printing "ok  STEP  IDENTITY  NAME" per
// source on out and going on after a failure, so that one run names every
// source it could not get; the error lists them. progress receives the
// byte progress of downloads (nil for none).
func (s *Session) Fetch(ctx context.Context, out, progress io.Writer) error {
	sources, err := s.Sources(progress)
	if err != nil {
		return err
	}
	if problems := fetchAll(ctx, s.plan.Steps, sources, out); len(problems) > 0 {
		return fmt.Errorf("%d source(s) could not be fetched:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

// fetchAll runs Fetch for the sources of the given fetch and verify steps,
// printing a line per source, and returns one line per failure.
func fetchAll(ctx context.Context, steps []*plan.Step, sources source.Set, out io.Writer) []string {
	var problems []string
	for _, st := range steps {
		for _, src := range st.Fetched() {
			name := src.Filename
			if name == "" {
				name = src.Repo + src.Dir
			}
			if src.Kind == "gomod" {
				name = src.Module + "@" + src.Version
			}
			f, err := sources.For(src)
			if err == nil {
				err = f.Fetch(ctx, src, io.Discard)
			}
			if err != nil {
				if ctx.Err() != nil {
					return append(problems, ctx.Err().Error())
				}
				problems = append(problems, fmt.Sprintf("%s (%s, %s): %v", st.ID, name, src.Pos, err))
				continue
			}
			fmt.Fprintf(out, "ok  %s  %s  %s\n", st.ID, src.Identity, name)
		}
	}
	return problems
}

// checkOffline is a run's pre-check with --offline: every source of a
// fetch (or verify) step about to run must be in the cache or a local
// mirror, and a run that would stop halfway for want of one does not
// start; the error names every missing source.
func checkOffline(ctx context.Context, toRun []*plan.Step, sources source.Set) error {
	problems := fetchAll(ctx, toRun, sources, io.Discard)
	if len(problems) == 0 {
		return nil
	}
	missing := 0
	for _, pr := range problems {
		if strings.Contains(pr, fetch.ErrMissingOffline.Error()) {
			missing++
		}
	}
	err := fmt.Errorf("--offline: %d source(s) unavailable, nothing was run:\n  %s", len(problems), strings.Join(problems, "\n  "))
	if missing > 0 {
		err = fmt.Errorf("%w\nfill the cache with `bootstrap fetch` on a machine with network, or `bootstrap cache add FILE…`", err)
	}
	return err
}
