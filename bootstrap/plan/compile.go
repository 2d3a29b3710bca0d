package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/expand"
	"github.com/porterkit/bootstrap/bootstrap/quilt"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

// DefaultPath is the PATH steps get when the recipe sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultSourceDateEpoch is SOURCE_DATE_EPOCH when the recipe sets none:
// 1980-01-01, the earliest time a zip file can hold, so archives built from
// it are valid and reproducible.
const DefaultSourceDateEpoch = "315532800"

// signatureFormat changes whenever the way signatures are computed changes,
// so that an upgrade of bootstrap reruns steps instead of trusting
// checkpoints it can no longer compare.
const signatureFormat = "1"

// Options are the inputs of Compile that do not come from the recipe.
type Options struct {
	// WorkDir is the absolute work directory.
	WorkDir string
	// Root is the path at which run steps see WorkDir: the fixed path
	// the sandbox mounts it at (runner/sandbox.WorkRoot), so that
	// nothing a step is given, and so nothing in its signature, depends
	// on where the work dir lives. "" means WorkDir itself (steps run
	// unconfined, --no-sandbox). ${{ work }}, ${{ src }}, ${{ build }}
	// and ${{ components.* }} expand below Root in what a step runs
	// (script, env, dir, requires); paths bootstrap itself reads or
	// writes (outputs, patches, verify: file, Step.SrcDir/BuildDir) are
	// mapped back below WorkDir (Plan.RealPath).
	Root string
	// Target is the target to build for; "" means the host.
	Target string
	// Host is the detected build machine.
	Host arch.Host
	// Jobs is the value of ${{ jobs }} (build parallelism inside a step).
	Jobs int
	// Getenv reads the caller's environment for ${{ env.NAME }}.
	Getenv func(string) (string, bool)
	// Executor holds what the place run steps execute in adds to their
	// signatures (a root file system's package set); nil on the host.
	Executor map[string]string
	// SkipContentHashes leaves dir-source and patch digests empty, for
	// `validate`, which must not read large trees.
	SkipContentHashes bool
	// ToolIdentity names the program a step's tool resolves to on the
	// step's PATH (path, digest, version) and returns false when the tool
	// adds nothing to the signature (one the chain builds itself); nil
	// means tools add nothing, as under an executor whose Executor inputs
	// already cover every program it runs (a root file system's package
	// set). runner/toolid implements it for the host.
	ToolIdentity func(tool string, env []string) (value string, counts bool)
}

// Compile expands a loaded recipe into a Plan. All expansion problems are
// returned together as a recipe.ErrorList with positions.
func Compile(r *recipe.Recipe, opts Options) (*Plan, error) {
	c := &compiler{r: r, opts: opts, comps: map[string]*recipe.Component{}, toolIDs: map[toolKey]toolValue{}}
	target, err := c.pickTarget()
	if err != nil {
		return nil, err
	}
	c.tgt = target
	if _, err := HostPackages(r, opts.Host, target); err != nil {
		var el recipe.ErrorList
		if errors.As(err, &el) {
			c.errs = append(c.errs, el...)
		}
	}
	for _, comp := range r.Components {
		c.comps[comp.Name.Value] = comp
	}
	p := &Plan{Recipe: r, WorkDir: opts.WorkDir, Root: c.root(), Target: target.Name, byID: map[string]*Step{}}
	for _, comp := range c.order() {
		for _, s := range c.component(comp) {
			p.Steps = append(p.Steps, s)
			p.byID[s.ID] = s
		}
	}
	if err := c.errs.Err(); err != nil {
		return nil, err
	}
	c.visibility(p)
	for _, s := range p.Steps {
		s.Inputs["format"] = signatureFormat
		if s.Kind == KindRun {
			for k, v := range opts.Executor {
				s.Inputs[k] = v
			}
			// Where the step sees the work dir: the sandbox's fixed path,
			// or under --no-sandbox the real one, so that the two modes
			// never share a signature even for a step naming no path.
			s.Inputs["workdir"] = p.Root
		}
		for _, d := range s.Deps {
			s.Inputs["after "+d] = p.byID[d].Signature
		}
		s.Signature = sign(s.Inputs)
	}
	return p, nil
}

type compiler struct {
	r     *recipe.Recipe
	opts  Options
	tgt   arch.Target
	comps map[string]*recipe.Component
	errs  recipe.ErrorList
	// toolIDs remembers each tool's identity per PATH: a tool every step
	// names is looked up once per compile, not once per step.
	toolIDs map[toolKey]toolValue
}

// visibility fills each run step's Sees: the trees and outputs of every
// component its component needs, transitively, since a tool found through
// one component (GOROOT_BOOTSTRAP's go) often runs from another's tree.
func (c *compiler) visibility(p *Plan) {
	trees := map[string][]string{}
	for _, s := range p.Steps {
		if len(trees[s.Component]) == 0 {
			trees[s.Component] = []string{s.SrcDir, s.BuildDir}
		}
		trees[s.Component] = append(trees[s.Component], s.Outputs...)
	}
	// One list per component, shared by its run steps (read-only): a
	// walk per step made a no-op rerun of a long chain quadratic.
	sees := map[string][]string{}
	for _, s := range p.Steps {
		if s.Kind != KindRun {
			continue
		}
		if list, ok := sees[s.Component]; ok {
			s.Sees = list
			continue
		}
		seen := map[string]bool{s.Component: true}
		var list []string
		var walk func(name string)
		walk = func(name string) {
			comp := c.comps[name]
			if comp == nil {
				return
			}
			for _, n := range comp.Needs {
				if !seen[n.Value] {
					seen[n.Value] = true
					list = append(list, trees[n.Value]...)
					walk(n.Value)
				}
			}
		}
		walk(s.Component)
		sees[s.Component] = list
		s.Sees = list
	}
}

// target picks the target: --target, else the host. A target the recipe
// does not list is an error.
func (c *compiler) pickTarget() (arch.Target, error) {
	name := c.opts.Target
	if name == "" {
		name = c.opts.Host.Target.Name
	}
	t, ok := arch.Lookup(name)
	if !ok {
		return arch.Target{}, c.unknownTarget(name)
	}
	if len(c.r.Targets) > 0 {
		var names []string
		for _, rt := range c.r.Targets {
			if want, ok := arch.Lookup(rt.Value); ok && want.Name == t.Name {
				return t, nil
			}
			names = append(names, rt.Value)
		}
		msg := fmt.Sprintf("the recipe does not support target %s (it lists %s)", t.Name, strings.Join(names, ", "))
		if c.opts.Target == "" {
			// A porter trying a board's recipe on a laptop.
			msg = fmt.Sprintf("this host is %s and the recipe builds for %s: run it on such a machine, or here with --emulate --target %s",
				t.Name, strings.Join(names, ", "), names[0])
		}
		return arch.Target{}, &recipe.Error{Pos: c.r.Targets[0].Pos, Msg: msg}
	}
	return t, nil
}

// unknownTarget is the error for a target name not in arch's table: a
// *recipe.Error naming the recipe and the targets to choose from (the
// recipe's, else every known one), so that it exits 2 like other bad
// usage.
func (c *compiler) unknownTarget(name string) error {
	pos := recipe.Pos{File: c.r.File}
	var names []string
	for _, rt := range c.r.Targets {
		names = append(names, rt.Value)
	}
	var msg string
	if len(names) > 0 {
		pos = c.r.Targets[0].Pos
		msg = fmt.Sprintf("unknown target %q: the recipe builds for %s", name, strings.Join(names, ", "))
	} else {
		for _, t := range arch.Targets() {
			names = append(names, t.Name)
		}
		msg = fmt.Sprintf("unknown target %q: the recipe lists no targets; known targets are %s", name, strings.Join(names, ", "))
	}
	return &recipe.Error{Pos: pos, Msg: msg}
}

// order sorts components so that each comes after the ones it needs,
// keeping file order otherwise (validation already rejected cycles).
func (c *compiler) order() []*recipe.Component {
	var out []*recipe.Component
	done := map[string]bool{}
	var visit func(comp *recipe.Component)
	visit = func(comp *recipe.Component) {
		if done[comp.Name.Value] {
			return
		}
		done[comp.Name.Value] = true
		for _, n := range comp.Needs {
			visit(c.comps[n.Value])
		}
		out = append(out, comp)
	}
	for _, comp := range c.r.Components {
		visit(comp)
	}
	return out
}

// srcDir and buildDir are a component's trees as bootstrap finds them
// (below the real work dir); stepSrc and stepBuild as its steps see them
// (below Root), which is what ${{ src }} and ${{ build }} expand to.
func (c *compiler) srcDir(comp string) string    { return filepath.Join(c.opts.WorkDir, "src", comp) }
func (c *compiler) buildDir(comp string) string  { return filepath.Join(c.opts.WorkDir, "build", comp) }
func (c *compiler) stepSrc(comp string) string   { return filepath.Join(c.root(), "src", comp) }
func (c *compiler) stepBuild(comp string) string { return filepath.Join(c.root(), "build", comp) }

// root is where steps see the work dir (Options.Root).
func (c *compiler) root() string {
	if c.opts.Root != "" {
		return filepath.Clean(c.opts.Root)
	}
	return c.opts.WorkDir
}

// real maps a path as a step sees it to the path bootstrap reads.
func (c *compiler) real(p string) string { return MapPath(p, c.root(), c.opts.WorkDir) }

// component expands one component into its fetch, patch and run steps.
func (c *compiler) component(comp *recipe.Component) []*Step {
	name := comp.Name.Value
	x := &scope{c: c, comp: comp, vars: map[string]string{}}
	base := func(step string, kind Kind, pos recipe.Pos) *Step {
		return &Step{ID: name + ":" + step, Component: name, Name: step, Kind: kind, Pos: pos,
			SrcDir: c.srcDir(name), BuildDir: c.buildDir(name), Inputs: map[string]string{"kind": string(kind)}}
	}
	var steps []*Step
	var prev string
	if len(comp.Sources) > 0 {
		fetch := base("fetch", KindFetch, comp.Pos)
		patch := base("patch", KindPatch, comp.Pos)
		for i, s := range comp.Sources {
			src := x.source(s)
			fetch.Sources = append(fetch.Sources, src)
			patch.Sources = append(patch.Sources, src)
			fetch.Inputs[fmt.Sprintf("source[%d]", i)] = src.Identity
			patch.Inputs[fmt.Sprintf("source[%d]", i)] = fmt.Sprintf("%s dest=%s strip=%d submodules=%v", src.Identity, src.Dest, src.Strip, src.Submodules)
		}
		for i, p := range comp.Patches {
			pp := x.patch(p)
			patch.Patches = append(patch.Patches, pp)
			name := c.rel(pp.File)
			if pp.File == "" {
				name = "series " + c.rel(pp.Series)
			}
			patch.Inputs[fmt.Sprintf("patch[%d]", i)] = fmt.Sprintf("%s %s strip=%d fuzz=%d", name, pp.Digest, pp.Strip, pp.Fuzz)
		}
		patch.Deps = []string{fetch.ID}
		steps = append(steps, fetch, patch)
		prev = patch.ID
	}
	tools := x.tools()
	recipeEnv := x.env(c.r.Env, nil)
	compEnv := x.env(comp.Env, nil)
	for _, te := range comp.TargetEnv {
		if sameTarget(te.Target.Value, c.tgt.Name) {
			x.env(te.Env, compEnv)
		}
	}
	for i, rs := range comp.Steps {
		x.step = rs.Name.Value
		s := base(rs.Name.Value, KindRun, rs.Pos)
		s.Script = x.shell(rs.Run)
		s.Inputs["script"] = x.shellForSignature(rs.Run)
		s.Shell = orDefault(rs.Shell.Value, "sh")
		s.Inputs["shell"] = s.Shell
		s.Dir = c.stepBuild(name)
		if rs.Dir.Value != "" {
			s.Dir = x.path(rs.Dir, s.Dir)
		}
		s.Inputs["dir"] = s.Dir
		s.Env = c.environment(recipeEnv, compEnv, x.env(rs.Env, nil))
		s.Network, s.Privileged, s.Reason = rs.Network, rs.Privileged, strings.TrimSpace(rs.Reason.Value)
		// The exceptions change what a step can do, so they are part of
		// its identity; the reason is prose and is not.
		if s.Network {
			s.Inputs["sandbox.network"] = "true"
		}
		if s.Privileged {
			s.Inputs["sandbox.privileged"] = "true"
		}
		for _, kv := range s.Env {
			k, v, _ := strings.Cut(kv, "=")
			s.Inputs["env."+k] = v
		}
		s.Tools = tools
		c.addToolInputs(s)
		if i == 0 {
			if prev != "" {
				s.Deps = append(s.Deps, prev)
			}
			for _, n := range comp.Needs {
				s.Deps = append(s.Deps, c.lastStep(n.Value))
			}
			for j, q := range comp.Requires {
				req := Requirement{Tool: x.plain(q.Tool), Constraint: q.Version.Value, SrcDir: s.SrcDir, Pos: q.Pos}
				s.Requires = append(s.Requires, req)
				s.Inputs[fmt.Sprintf("requires[%d]", j)] = req.Tool + " " + req.Constraint
			}
		} else {
			s.Deps = []string{prev}
		}
		if i == len(comp.Steps)-1 {
			// The signature holds the outputs as steps see them; bootstrap
			// hashes them at their real paths.
			var seen []string
			for _, o := range comp.Outputs {
				p := x.path(o, c.stepBuild(name))
				seen = append(seen, p)
				s.Outputs = append(s.Outputs, c.real(p))
			}
			if len(s.Outputs) > 0 {
				s.Inputs["outputs"] = strings.Join(seen, "\n")
			}
		}
		steps = append(steps, s)
		prev = s.ID
	}
	x.step = ""
	if v := x.verifyStep(prev); v != nil {
		steps = append(steps, v)
	}
	if len(comp.Steps) == 0 && len(comp.Needs) > 0 && len(steps) > 0 {
		// A source-only component still waits for what it needs.
		steps[len(steps)-1].Deps = append(steps[len(steps)-1].Deps, c.needDeps(comp)...)
	}
	return steps
}

func (c *compiler) needDeps(comp *recipe.Component) []string {
	var out []string
	for _, n := range comp.Needs {
		out = append(out, c.lastStep(n.Value))
	}
	return out
}

// lastStep is the ID of a component's final step, what `needs` waits for.
func (c *compiler) lastStep(comp string) string {
	rc := c.comps[comp]
	if c.verifies(rc) {
		return comp + ":verify"
	}
	if n := len(rc.Steps); n > 0 {
		return comp + ":" + rc.Steps[n-1].Name.Value
	}
	return comp + ":patch"
}

// environment builds a step's complete environment: the minimal base, then
// the recipe's, the component's and the step's env, later ones winning.
func (c *compiler) environment(layers ...map[string]string) []string {
	env := map[string]string{
		"PATH":              DefaultPath,
		"HOME":              filepath.Join(c.root(), "home"),
		"TMPDIR":            filepath.Join(c.root(), "tmp"),
		"LANG":              "C.UTF-8",
		"TZ":                "UTC",
		"SOURCE_DATE_EPOCH": DefaultSourceDateEpoch,
	}
	for _, l := range layers {
		for k, v := range l {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// rel names a patch file so that signatures and explanations do not
// depend on where the checkout or the work dir is: a file in the work dir
// (a series shipped in a source) below "${{ work }}", in every mode (it
// is bootstrap's own step that reads it); any other relative to the
// recipe's directory (../patches/x for the repository's patch sets beside
// recipes/), however the recipe was named on the command line. The
// content is hashed beside it.
func (c *compiler) rel(p string) string {
	if w := MapPath(p, c.opts.WorkDir, "${{ work }}"); w != filepath.Clean(p) {
		return w
	}
	dir, err := filepath.Abs(c.r.Dir())
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(dir, p); err == nil {
		return filepath.ToSlash(r)
	}
	return p
}

// sign hashes the inputs in a canonical order.
func sign(inputs map[string]string) string {
	keys := make([]string, 0, len(inputs))
	for k := range inputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Length-prefixed, so no two different input sets hash alike.
	buf := make([]byte, 0, 4096)
	for _, k := range keys {
		v := inputs[k]
		buf = strconv.AppendInt(buf, int64(len(k)), 10)
		buf = append(buf, ':')
		buf = append(buf, k...)
		buf = strconv.AppendInt(buf, int64(len(v)), 10)
		buf = append(buf, ':')
		buf = append(buf, v...)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

// source expands a recipe source and works out its content identity.
func (x *scope) source(s *recipe.Source) Source {
	src := Source{Kind: s.Kind(), Strip: s.Strip, Submodules: s.Submodules, Pos: s.Pos,
		Dest: filepath.Clean(orDefault(x.plain(s.Dest), ".")), Tree: s.Tree.Value,
		Size: s.Size, UnpackedSize: s.UnpackedSize}
	switch src.Kind {
	case "url":
		for _, u := range s.URL {
			src.URLs = append(src.URLs, x.plain(u))
		}
		src.SHA256 = s.SHA256.Value
		src.Filename = x.plain(s.Filename)
		if src.Filename == "" && len(src.URLs) > 0 {
			src.Filename = path.Base(strings.SplitN(src.URLs[0], "?", 2)[0])
		}
		src.Identity = "sha256:" + src.SHA256
	case "git":
		src.Repo, src.Commit, src.Ref = x.plain(s.Git), s.Commit.Value, x.plain(s.Ref)
		src.Identity = "git:" + src.Commit
	case "svn":
		src.Repo, src.Commit = x.plain(s.SVN), s.Revision.Value
		// The content, not the revision: a revision number names nothing
		// that cannot be edited in a cached working copy.
		src.Identity = "svn:" + src.Tree
	case "hg":
		src.Repo, src.Commit = x.plain(s.HG), s.Changeset.Value
		src.Identity = "hg:" + src.Commit
		if src.Tree != "" {
			src.Identity += " " + src.Tree
		}
	case "gomod":
		x.goModSource(s, &src)
	case "dir":
		src.Dir = x.c.real(x.path(s.Dir, x.c.r.DirOf(s.Dir)))
		if x.c.opts.SkipContentHashes {
			break
		}
		sum, err := treehash.Sum(src.Dir)
		if err != nil {
			x.errorf(s.Dir.Pos, "cannot read dir source: %v", err)
		}
		src.Identity = "dir:" + sum
	}
	return src
}

// patch expands a patch entry and hashes its content (for a series, the
// series file and every patch it names).
func (x *scope) patch(p *recipe.Patch) Patch {
	out := Patch{Strip: p.Strip, Fuzz: p.Fuzz, Pos: p.Pos}
	str := p.File
	if p.File.Value != "" {
		out.File = x.c.real(x.path(p.File, x.c.r.DirOf(p.File)))
	} else {
		out.Series = x.c.real(x.path(p.Series, x.c.r.DirOf(p.Series)))
		str = p.Series
	}
	file := out.File + out.Series
	src := x.c.srcDir(x.comp.Name.Value)
	if out.Series != "" && (file == src || strings.HasPrefix(file, src+string(filepath.Separator))) {
		out.Digest = "in-source" // covered by the source's identity
		return out
	}
	if x.c.opts.SkipContentHashes {
		return out
	}
	digest, err := patchDigest(out)
	if err != nil {
		x.errorf(str.Pos, "%v", err)
	}
	out.Digest = digest
	return out
}

func patchDigest(p Patch) (string, error) {
	h := sha256.New()
	add := func(f string) error {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("patch: %w", err)
		}
		name := filepath.Base(f)
		fmt.Fprintf(h, "%d:%s%d:", len(name), name, len(data))
		h.Write(data)
		return nil
	}
	if p.File != "" {
		if err := add(p.File); err != nil {
			return "", err
		}
		return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.Open(p.Series)
	if err != nil {
		return "", fmt.Errorf("series: %w", err)
	}
	defer f.Close()
	entries, err := quilt.Parse(f)
	if err != nil {
		return "", fmt.Errorf("series %s: %w", p.Series, err)
	}
	if err := add(p.Series); err != nil {
		return "", err
	}
	for _, e := range entries {
		if err := add(filepath.Join(filepath.Dir(p.Series), e.Name)); err != nil {
			return "", fmt.Errorf("series %s line %d: %w", p.Series, e.Line, err)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// jobsPlaceholder stands for ${{ jobs }} in signatures: running with another
// -j must not rebuild anything.
const jobsPlaceholder = "${{ jobs }}"

func itoa(n int) string { return strconv.Itoa(n) }

// HostPackages expands the recipe's host.packages for a build of target on
// host. Only ${{ host.* }} and ${{ target.* }} may appear there: a package
// that must match the machine's kernel rather than the userland the chain
// is built in is written like containerd:${{ host.debarch }} (on an
// emulated run, that installs the host's own containerd into the target's
// root file system, where it runs natively).
func HostPackages(r *recipe.Recipe, host arch.Host, target arch.Target) ([]recipe.Str, error) {
	var errs recipe.ErrorList
	out := make([]recipe.Str, 0, len(r.Host.Packages))
	for _, p := range r.Host.Packages {
		v, err := expand.Plain(p.Value, func(name string) (string, error) {
			switch {
			case strings.HasPrefix(name, "host."):
				return fromMap("host", strings.TrimPrefix(name, "host."), host.Vars())
			case strings.HasPrefix(name, "target."):
				return fromMap("target", strings.TrimPrefix(name, "target."), target.Vars())
			}
			return "", fmt.Errorf("host.packages may only use ${{ host.* }} and ${{ target.* }}, not ${{ %s }}", name)
		})
		if err != nil {
			errs = append(errs, &recipe.Error{Pos: p.Pos, Msg: err.Error()})
			continue
		}
		p.Value = v
		out = append(out, p)
	}
	return out, errs.Err()
}
