package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/doctor"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/patch"
	"github.com/porterkit/bootstrap/runner/require"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
	"github.com/porterkit/bootstrap/runner/source/gitsrc"
	"github.com/porterkit/bootstrap/runner/source/gomod"
	"github.com/porterkit/bootstrap/runner/source/vcs"
	"github.com/porterkit/bootstrap/runner/verify"
)

// sourceOptions are the flags that say where sources come from.
type sourceOptions struct {
	// Cache is the content-addressed cache dir.
	Cache string
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

func sourceFlags() []cli.Flag {
	return []cli.Flag{
		cacheFlag(),
		&cli.StringSliceFlag{Name: "mirror", Usage: "look for sources in `DIR|URL` first (repeatable; also $BOOTSTRAP_MIRRORS, space-separated)"},
		&cli.BoolFlag{Name: "offline", Usage: "never use the network; fail naming every source missing from the cache"},
		&cli.DurationFlag{Name: "stall-timeout", Usage: "cut and retry a download that receives nothing for `D` (default 1m)"},
		&cli.IntFlag{Name: "retries", Usage: "retry a cut or failed (5xx) download `N` times, resuming (default 3; -1 for none)"},
		&cli.DurationFlag{Name: "retry-wait", Usage: "wait `D` before the first retry, doubling after each (default 1s)"},
	}
}

func sourceOptionsFrom(c *cli.Context) sourceOptions {
	o := sourceOptions{Cache: c.String("cache"), Mirrors: c.StringSlice("mirror"), Offline: c.Bool("offline"),
		StallTimeout: c.Duration("stall-timeout"), Retries: c.Int("retries"), RetryWait: c.Duration("retry-wait")}
	o.Mirrors = append(o.Mirrors, strings.Fields(os.Getenv("BOOTSTRAP_MIRRORS"))...)
	return o
}

// set builds the fetchers for every source kind. progress receives the
// byte progress of downloads (nil for none).
func (o sourceOptions) set(progress io.Writer) (source.Set, error) {
	cache, err := cacheDir(o.Cache)
	if err != nil {
		return nil, err
	}
	return source.Set{
		"dir": source.Dir{},
		"url": fetch.New(fetch.Options{
			CacheDir: cache, Mirrors: o.Mirrors, Offline: o.Offline, Progress: progress,
			StallTimeout: o.StallTimeout, Retries: o.Retries, Backoff: o.RetryWait,
		}),
		"git": gitsrc.New(gitsrc.Options{CacheDir: cache, Mirrors: o.Mirrors, Offline: o.Offline, Git: os.Getenv("BOOTSTRAP_GIT")}),
		"svn": vcs.NewSVN(vcs.Options{CacheDir: cache, Offline: o.Offline}),
		"hg":  vcs.NewHG(vcs.Options{CacheDir: cache, Offline: o.Offline}),
		// GOPROXY is read as the go command reads it; off means the cache.
		"gomod": gomod.New(gomod.Options{CacheDir: cache, Proxy: os.Getenv("GOPROXY"), Offline: o.Offline}),
	}, nil
}

// verifier is the runner's verify hook: gomod: references come through
// the same fetcher (and cache) as gomod sources.
func (o sourceOptions) verifier(sources source.Set) func(context.Context, *plan.Verification, io.Writer) (any, error) {
	vr := verify.Verifier{}
	if m, ok := sources["gomod"].(*gomod.Fetcher); ok {
		vr.Modules = m
	}
	if cache, err := cacheDir(o.Cache); err == nil {
		vr.CacheDir = cache
	}
	return func(ctx context.Context, v *plan.Verification, log io.Writer) (any, error) {
		res, err := vr.Verify(ctx, v, log)
		if err != nil {
			return nil, err
		}
		return res, nil
	}
}

// applyPatch is the runner's patch hook.
func applyPatch(ctx context.Context, tree string, p plan.Patch, log io.Writer) (any, error) {
	rec, err := patch.Apply(ctx, tree, p, log)
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// checkRequirement is the runner's requires: hook.
func checkRequirement(ctx context.Context, r plan.Requirement, env []string, place executor.Executor) error {
	return require.Check(ctx, r, env, place)
}

// preflight runs the host checks of `bootstrap doctor` before a run and,
// when one fails, prints the report and stops before any work.
func preflight(ctx context.Context, p *plan.Plan, host arch.Host, em emulateOptions, out io.Writer) error {
	rep, err := doctor.Check(ctx, p.Recipe, doctor.Options{WorkDir: p.WorkDir, Host: &host, Target: p.Target,
		Emulate: em.emulating(), RootfsGiven: em.Rootfs != ""})
	if err != nil {
		return err
	}
	if rep.OK() {
		return nil
	}
	fmt.Fprintln(out, "the host is not ready for this recipe:")
	rep.Print(out)
	hint := ""
	switch {
	case em.emulating():
		hint = fmt.Sprintf("; `bootstrap doctor --install --emulate --target %s %s` sets emulation up", p.Target, p.Recipe.File)
	case len(rep.MissingPackages()) > 0:
		hint = fmt.Sprintf("; `bootstrap doctor --install %s` installs the missing packages", p.Recipe.File)
	}
	return fmt.Errorf("%d host check(s) failed (--skip-doctor runs anyway)%s: %w", len(rep.Failed()), hint, errChecksFailed)
}
