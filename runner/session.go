package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/toolid"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// Config is what a Session is opened with: the recipe, and what the
// caller's flags say about where and how it runs.
type Config struct {
	// Recipe is the recipe file's path.
	Recipe string
	// WorkDir overrides the default, ./.bootstrap/<recipe name>-<target>
	// (workdir.Default).
	WorkDir string
	// Target overrides the host's target (and, under emulation, a
	// one-target recipe's only target).
	Target string
	// Jobs is the value of ${{ jobs }} and the number of build steps run
	// at once; zero means the number of CPUs for ${{ jobs }} and 1 step.
	Jobs int
	// Cache is the cache dir; empty means CacheDir's default.
	Cache string
	// Executor says where run steps execute; its CacheDir defaults to
	// the cache dir.
	Executor executor.Config
	// Sources say where sources come from.
	Sources SourceConfig
	// Native makes a target this host cannot build natively an error
	// (arch.NotNativeError) unless the run is emulated: run sets it.
	Native bool
	// Detect finds the host; nil means arch.DetectHost.
	Detect func() (arch.Host, error)
	// Getenv reads the caller's environment; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// BuildCache is the shared build cache the session restores from and
	// pushes to (session_cache.go, docs/cache.md).
	BuildCache CacheConfig
	// Notice receives a line for the porter that is not an error (the
	// old default work dir still there); nil drops it.
	Notice func(string)
}

// Session is one recipe compiled for one work dir, target and place: the
// single entry point the commands use. Open compiles the plan once; Run
// owns a run's life (host checks, the executor, the run, the record).
type Session struct {
	cfg  Config
	host arch.Host
	plan *plan.Plan
	// ready is false when the plan was compiled with the placeholder of
	// a root file system that is not built yet.
	ready bool
	// place is the executor of an emulated run, opened by the first Run
	// that needs it (nil on the host, whose executor needs no opening).
	place executor.Executor
	// toolIdentity identifies the host tools steps name (toolid); nil
	// under emulation, where the root file system's package set is the
	// identity of every program a step runs.
	toolIdentity func(tool string, env []string) (string, bool)
}

// Open loads and compiles the recipe. With emulation the plan's
// signatures include the root file system's package set, taken from the
// cached tree (nothing is built here). Recipe errors come back as
// recipe.ErrorList or *recipe.Error.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	r, err := recipe.Load(cfg.Recipe)
	if err != nil {
		return nil, err
	}
	detect := cfg.Detect
	if detect == nil {
		detect = arch.DetectHost
	}
	host, err := detect()
	if err != nil {
		return nil, fmt.Errorf("detect host: %w", err)
	}
	emulating := cfg.Executor.Emulating()
	if cfg.Target == "" && len(r.Targets) == 1 {
		// A one-target recipe (power8.yaml) means that target: under
		// --emulate it is built, and elsewhere log, record and plan find
		// its work dir, and run says how to build it here.
		cfg.Target = r.Targets[0].Value
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = defaultWorkDir(r, cfg, host)
	}
	if cfg.WorkDir, err = filepath.Abs(cfg.WorkDir); err != nil {
		return nil, fmt.Errorf("work dir %s: %w", cfg.WorkDir, err)
	}
	if emulating && cfg.Executor.CacheDir == "" {
		if cfg.Executor.CacheDir, err = CacheDir(cfg.Cache); err != nil {
			return nil, err
		}
	}
	cache, err := CacheDir(cfg.Cache)
	if err != nil {
		return nil, err
	}
	// The sandbox hides the cache from steps: sources reach them only
	// through fetch and patch.
	cfg.Executor.Hide = append(cfg.Executor.Hide, cache)
	s := &Session{cfg: cfg, host: host, ready: true}
	inputs := cfg.Executor.Host(cfg.WorkDir).Inputs()
	if t, ok := s.target(r); ok && emulating {
		inputs, s.ready = cfg.Executor.Inputs(r, host, t)
	}
	var tools *toolid.Resolver
	if !emulating {
		tools = hostTools(cfg)
		s.toolIdentity = func(tool string, env []string) (string, bool) { return tools.Identify(ctx, tool, env) }
	}
	if s.plan, err = s.compile(r, inputs); err != nil {
		return nil, err
	}
	if tools != nil {
		// A cache that cannot be written costs only hashing again next
		// time (a read-only home on a board): not worth failing for.
		_ = tools.Save()
	}
	if cfg.Native && !emulating {
		t, _ := arch.Lookup(s.plan.Target)
		if err := host.CanBuild(t); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// hostTools is the resolver of the host tools steps name, caching digests
// in the cache dir (in memory only when there is none).
func hostTools(cfg Config) *toolid.Resolver {
	file := ""
	if dir, err := CacheDir(cfg.Cache); err == nil {
		file = filepath.Join(dir, toolid.CacheName)
	}
	return toolid.New(cfg.WorkDir, file)
}

// defaultWorkDir is ./.bootstrap/<recipe>-<target>, the target being
// cfg's or the host's: one work dir per target, so that building a second
// target keeps the first one's checkpoints. While the old default
// ./.bootstrap/<recipe> exists and the new one does not, it tells
// cfg.Notice how to keep using the old one.
func defaultWorkDir(r *recipe.Recipe, cfg Config, host arch.Host) string {
	target := cfg.Target
	if target == "" {
		target = host.Target.Name
	}
	if t, ok := arch.Lookup(target); ok {
		target = t.Name // ppc64el and ppc64le share one work dir
	}
	if msg := workdir.OldDefaultNotice(r.Name.Value, target); msg != "" && cfg.Notice != nil {
		cfg.Notice(msg)
	}
	return workdir.Default(r.Name.Value, target)
}

// target is the target the plan will be compiled for, when it is known.
func (s *Session) target(r *recipe.Recipe) (arch.Target, bool) {
	if s.cfg.Target == "" {
		return s.host.Target, true
	}
	return arch.Lookup(s.cfg.Target)
}

// compile compiles r with the executor's signature inputs.
func (s *Session) compile(r *recipe.Recipe, inputs map[string]string) (*plan.Plan, error) {
	getenv := s.cfg.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	jobs := s.cfg.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	return plan.Compile(r, plan.Options{WorkDir: s.cfg.WorkDir, Root: s.cfg.Executor.Root(), Target: s.cfg.Target, Host: s.host,
		Jobs: jobs, Getenv: getenv, Executor: inputs, ToolIdentity: s.toolIdentity})
}

// Ready reports whether the plan's signatures are final: false for an
// emulated plan compiled before its root file system was built, whose
// run steps lack the tree's identity (and the sandbox's) until then.
func (s *Session) Ready() bool { return s.ready }

// Plan is the compiled plan.
func (s *Session) Plan() *plan.Plan { return s.plan }

// Host is the host Open detected.
func (s *Session) Host() arch.Host { return s.host }

// Step returns the plan's step id, or a *UsageError that says how to list
// the steps.
func (s *Session) Step(id string) (*plan.Step, error) {
	if st := s.plan.Step(id); st != nil {
		return st, nil
	}
	f := s.cfg.Recipe
	return nil, &UsageError{Err: fmt.Errorf("no step %q in %s; `bootstrap plan %s` lists them", id, f, f)}
}

// Statuses are every step's state against its checkpoint, in plan order.
func (s *Session) Statuses() ([]*Status, error) {
	return Statuses(s.plan, state.Open(s.plan.WorkDir))
}

// Status is the state of step id (see Step for an unknown one).
func (s *Session) Status(id string) (*Status, error) {
	st, err := s.Step(id)
	if err != nil {
		return nil, err
	}
	sts, err := s.Statuses()
	if err != nil {
		return nil, err
	}
	for _, x := range sts {
		if x.Step == st {
			return x, nil
		}
	}
	return nil, fmt.Errorf("step %s: no status", id)
}

// Close releases what the session opened: the executor of an emulated
// run. Nothing else is held between calls.
func (s *Session) Close() error {
	if s.place == nil {
		return nil
	}
	err := s.place.Close()
	s.place = nil
	return err
}

// CacheDir is the cache dir flag, or $XDG_CACHE_HOME/bootstrap, or
// ~/.cache/bootstrap, made absolute.
func CacheDir(flag string) (string, error) {
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
