package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/provenance"
)

// planOptions are the flags that decide a recipe's plan: its work dir,
// target, ${{ jobs }} and, through the root file system's packages, the
// signatures of an emulated run.
type planOptions struct {
	// WorkDir overrides ./.bootstrap/<recipe name>.
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
	// Detect finds the host; nil means arch.DetectHost.
	Detect func() (arch.Host, error)
}

// workDirFlags are the flags of commands that only read a work dir and
// name steps: log, record.
func workDirFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workdir", Usage: "work `DIR`", DefaultText: "./.bootstrap/<recipe name>"},
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
		Executor: executor.Config{Emulate: c.Bool("emulate"), Rootfs: c.String("rootfs"), DebianMirror: c.String("debian-mirror")}}
	if o.Executor.DebianMirror == "" {
		o.Executor.DebianMirror = os.Getenv("BOOTSTRAP_DEBIAN_MIRROR")
	}
	return o
}

// config is the session's configuration of these flags.
func (o planOptions) config(path string) runner.Config {
	return runner.Config{Recipe: path, WorkDir: o.WorkDir, Target: o.Target, Jobs: o.Jobs, Cache: o.Cache,
		Executor: o.Executor, Detect: o.Detect}
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
