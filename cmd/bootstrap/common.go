package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// planOptions are the flags every command that compiles a recipe shares.
type planOptions struct {
	// WorkDir overrides ./.bootstrap/<recipe name>-<target>.
	WorkDir string
	// Target overrides the host's target.
	Target string
	// Jobs is the value of ${{ jobs }} and the number of build steps run
	// at once.
	Jobs int
	// Detect finds the host; nil means arch.DetectHost.
	Detect func() (arch.Host, error)
	// Getenv reads the caller's environment; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	emulateOptions
}

func planFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workdir", Usage: "work `DIR` (default ./.bootstrap/<recipe name>-<target>)"},
		&cli.StringFlag{Name: "target", Usage: "build for `TARGET` (default: this host)"},
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "`N` build steps at once, and ${{ jobs }} (default: 1 step; jobs = CPUs)"},
		&cli.BoolFlag{Name: "emulate", Usage: "run steps in a Debian root file system of the target's architecture (chroot, qemu-user through binfmt_misc)"},
		&cli.StringFlag{Name: "rootfs", Usage: "with --emulate, run steps in this root file system `DIR` instead of one built from the recipe"},
		&cli.StringFlag{Name: "debian-mirror", Usage: "Debian archive `URL` the root file system is built from (default $BOOTSTRAP_DEBIAN_MIRROR, else Debian's)"},
	}
}

// cacheFlag is --cache. Commands that only read a work dir take it too: with
// --emulate the plan's signatures include the cached root file system's
// package set, which is found in the cache.
func cacheFlag() cli.Flag {
	return &cli.StringFlag{Name: "cache", Usage: "cache `DIR` (default $XDG_CACHE_HOME/bootstrap)"}
}

// planCacheFlags are planFlags and --cache, for commands without sourceFlags.
func planCacheFlags() []cli.Flag { return append(planFlags(), cacheFlag()) }

func planOptionsFrom(c *cli.Context) planOptions {
	return planOptions{WorkDir: c.String("workdir"), Target: c.String("target"), Jobs: c.Int("jobs"),
		emulateOptions: emulateOptionsFrom(c)}
}

// loadPlan loads and compiles a recipe. Recipe errors come back as
// recipe.ErrorList (exit 2).
func loadPlan(path string, o planOptions) (*plan.Plan, error) {
	p, _, err := loadPlanHost(path, o, false)
	return p, err
}

// loadPlanStep is loadPlan for commands about one step: an unknown step is
// a usage error that says how to list them.
func loadPlanStep(path string, o planOptions, step string) (*plan.Plan, *plan.Step, error) {
	p, err := loadPlan(path, o)
	if err != nil {
		return nil, nil, err
	}
	s := p.Step(step)
	if s == nil {
		return nil, nil, &usageError{fmt.Sprintf("no step %q in %s; `bootstrap plan %s` lists them", step, path, path)}
	}
	return p, s, nil
}

// loadPlanHost is loadPlan that also returns the host; with native set, a
// target this host cannot build is an error before any work.
func loadPlanHost(path string, o planOptions, native bool) (*plan.Plan, arch.Host, error) {
	r, err := recipe.Load(path)
	if err != nil {
		return nil, arch.Host{}, err
	}
	detect := o.Detect
	if detect == nil {
		detect = arch.DetectHost
	}
	host, err := detect()
	if err != nil {
		return nil, host, fmt.Errorf("detect host: %w", err)
	}
	work, err := workDir(r, o, host)
	if err != nil {
		return nil, host, err
	}
	if o.emulating() && o.Target == "" && len(r.Targets) == 1 {
		// A one-target recipe (power8.yaml) under --emulate means that
		// target.
		o.Target = r.Targets[0].Value
	}
	popts := o.compileOptions(work, host)
	p, err := plan.Compile(r, popts)
	if err != nil {
		return nil, host, err
	}
	if o.emulating() {
		// Signatures include the root file system's packages: compile
		// again with those of the cached tree (or a placeholder saying it
		// is not built yet).
		popts.Executor = o.cachedInputs(p, host)
		p, err = plan.Compile(r, popts)
		return p, host, err
	}
	if native {
		t, _ := arch.Lookup(p.Target)
		if err := host.CanBuild(t); err != nil {
			return nil, host, err
		}
	}
	return p, host, nil
}

// compileOptions are the plan options of a command's flags.
func (o planOptions) compileOptions(work string, host arch.Host) plan.Options {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	return plan.Options{WorkDir: work, Target: o.Target, Host: host, Jobs: jobs, Getenv: getenv}
}

// recompile compiles p's recipe again with the executor's signature inputs
// (those of a root file system that was just built).
func recompile(p *plan.Plan, o planOptions, host arch.Host, inputs map[string]string) (*plan.Plan, error) {
	o.Target = p.Target
	popts := o.compileOptions(p.WorkDir, host)
	popts.Executor = inputs
	return plan.Compile(p.Recipe, popts)
}

// workDir is --workdir, or workdir.Default of the recipe and the target
// (--target, else the recipe's one target under --emulate, else this
// host's), made absolute. While the old default ./.bootstrap/<recipe>
// exists and the new one does not, it says once per command on stderr how
// to keep using the old one.
func workDir(r *recipe.Recipe, o planOptions, host arch.Host) (string, error) {
	if o.WorkDir != "" {
		return filepath.Abs(o.WorkDir)
	}
	target := o.Target
	if target == "" && o.emulating() && len(r.Targets) == 1 {
		target = r.Targets[0].Value
	}
	if target == "" {
		target = host.Target.Name
	}
	if t, ok := arch.Lookup(target); ok {
		target = t.Name // ppc64el and ppc64le share one work dir
	}
	if msg := workdir.OldDefaultNotice(r.Name.Value, target); msg != "" {
		fmt.Fprintln(os.Stderr, "bootstrap:", msg)
	}
	return filepath.Abs(workdir.Default(r.Name.Value, target))
}

// cacheDir is --cache, or $XDG_CACHE_HOME/bootstrap, or ~/.cache/bootstrap.
func cacheDir(flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "bootstrap"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("no cache dir: set --cache, XDG_CACHE_HOME or HOME")
	}
	return filepath.Join(home, ".cache", "bootstrap"), nil
}

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
