package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/source"
)

// planOptions are the flags that decide a recipe's plan: its work dir,
// target, ${{ jobs }} and, through the root file system's packages, the
// signatures of an emulated run.
type planOptions struct {
	// WorkDir overrides ./.bootstrap/<recipe name>-<target>.
	WorkDir string
	// Target overrides the host's target.
	Target string
	// Jobs is the value of ${{ jobs }} and the number of build steps run
	// at once.
	Jobs int
	// Cache is the cache dir (--cache).
	Cache string
	// Executor is --emulate, --rootfs and --debian-mirror.
	Executor executor.Config
}

// workDirFlags are the flags of commands that only read a work dir and
// name steps: log, record.
func workDirFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workdir", Usage: "work `DIR`", DefaultText: "./.bootstrap/<recipe name>-<target>"},
		targetFlag(),
	}
}

// targetFlag is --target.
func targetFlag() cli.Flag {
	return &cli.StringFlag{Name: "target", Usage: "build for `TARGET`", DefaultText: "this host"}
}

// planFlags are workDirFlags and what else changes signatures.
func planFlags() []cli.Flag {
	return append(workDirFlags(),
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "`N` build steps at once, and ${{ jobs }}", DefaultText: "1 step; jobs = CPUs"},
		&cli.BoolFlag{Name: "emulate", Usage: "run steps in a Debian root file system of the target's architecture (chroot, qemu-user through binfmt_misc)"},
		&cli.StringFlag{Name: "rootfs", Usage: "with --emulate, run steps in this root file system `DIR` instead of one built from the recipe"},
		&cli.StringFlag{Name: "debian-mirror", Usage: "Debian archive `URL` the root file system is built from", DefaultText: "$BOOTSTRAP_DEBIAN_MIRROR, else Debian's"},
		&cli.BoolFlag{Name: "no-sandbox", Usage: "run steps unconfined, for debugging: they see the work dir at its real path, not /mnt/bootstrap, so their signatures depend on where it is (recorded in the provenance; reruns every step; see docs/sandbox.md)"},
	)
}

// cacheFlag is --cache. Commands that only read a work dir take it too: with
// --emulate the plan's signatures include the cached root file system's
// package set, which is found in the cache.
func cacheFlag() cli.Flag {
	return &cli.StringFlag{Name: "cache", Usage: "cache `DIR`", DefaultText: "$XDG_CACHE_HOME/bootstrap"}
}

// planCacheFlags are planFlags and --cache, for commands without sourceFlags.
func planCacheFlags() []cli.Flag { return append(planFlags(), cacheFlag()) }

// planOptionsFrom reads the flags a command has of planCacheFlags.
func planOptionsFrom(c *cli.Context) planOptions {
	o := planOptions{WorkDir: c.String("workdir"), Target: c.String("target"), Jobs: c.Int("jobs"), Cache: c.String("cache"),
		Executor: executor.Config{Emulate: c.Bool("emulate"), Rootfs: c.String("rootfs"), DebianMirror: c.String("debian-mirror"),
			NoSandbox: c.Bool("no-sandbox")}}
	if o.Executor.DebianMirror == "" {
		o.Executor.DebianMirror = os.Getenv("BOOTSTRAP_DEBIAN_MIRROR")
	}
	return o
}

// config is the session's configuration of these flags.
func (o planOptions) config(path string) runner.Config {
	return runner.Config{Recipe: path, WorkDir: o.WorkDir, Target: o.Target, Jobs: o.Jobs, Cache: o.Cache,
		Executor: o.Executor, Notice: func(msg string) { fmt.Fprintln(os.Stderr, "bootstrap:", msg) }}
}

// open opens a session on the recipe. Recipe errors come back as
// recipe.ErrorList (exit 2).
func (o planOptions) open(ctx context.Context, path string) (*runner.Session, error) {
	return runner.Open(ctx, o.config(path))
}

// loadPlan loads and compiles a recipe, for commands that need the plan
// only.
func loadPlan(path string, o planOptions) (*plan.Plan, error) {
	s, err := o.open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	return s.Plan(), nil
}

// sourceOptions are the flags that say where sources come from.
type sourceOptions struct {
	// Cache is the content-addressed cache dir.
	Cache string
	runner.SourceConfig
}

// sourceFlags are --cache and the flags of sourceOptions.
func sourceFlags() []cli.Flag {
	return []cli.Flag{
		cacheFlag(),
		&cli.StringSliceFlag{Name: "mirror", Usage: "look for sources in `DIR|URL` first (repeatable; also $BOOTSTRAP_MIRRORS, space-separated)"},
		&cli.BoolFlag{Name: "offline", Usage: "never use the network; fail naming every source missing from the cache"},
		&cli.DurationFlag{Name: "stall-timeout", Usage: "cut and retry a download that receives nothing for `D`", DefaultText: "1m"},
		&cli.IntFlag{Name: "retries", Usage: "retry a cut or failed (5xx) download `N` times, resuming; -1 for none", DefaultText: "3"},
		&cli.DurationFlag{Name: "retry-wait", Usage: "wait `D` before the first retry, doubling after each", DefaultText: "1s"},
	}
}

// sourceOptionsFrom reads sourceFlags, adding $BOOTSTRAP_MIRRORS.
func sourceOptionsFrom(c *cli.Context) sourceOptions {
	o := sourceOptions{Cache: c.String("cache"), SourceConfig: runner.SourceConfig{Mirrors: c.StringSlice("mirror"), Offline: c.Bool("offline"),
		StallTimeout: c.Duration("stall-timeout"), Retries: c.Int("retries"), RetryWait: c.Duration("retry-wait")}}
	o.Mirrors = append(o.Mirrors, strings.Fields(os.Getenv("BOOTSTRAP_MIRRORS"))...)
	return o
}

// set builds the fetchers for every source kind (runner.NewSources).
// progress receives the byte progress of downloads (nil for none).
func (o sourceOptions) set(progress io.Writer) (source.Set, error) {
	cache, err := cacheDir(o.Cache)
	if err != nil {
		return nil, err
	}
	return runner.NewSources(cache, o.SourceConfig, progress), nil
}

// cacheDir is --cache, or $XDG_CACHE_HOME/bootstrap, or ~/.cache/bootstrap.
func cacheDir(flag string) (string, error) { return runner.CacheDir(flag) }

// args checks the number of positional arguments.
func args(c *cli.Context, min, max int, usage string) ([]string, error) {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		return nil, &usageError{fmt.Sprintf("usage: bootstrap %s %s", c.Command.Name, usage)}
	}
	return c.Args().Slice(), nil
}

// isCLIUsage recognises urfave/cli's own usage errors (unknown flag, bad
// flag value), which it returns as plain errors.
func isCLIUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"flag provided but not defined", "invalid value", "flag needs an argument", "Required flag", "No help topic"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// printVersion is `bootstrap --version`.
func printVersion(w io.Writer) {
	fmt.Fprintln(w, provenance.ReadVersion())
}
