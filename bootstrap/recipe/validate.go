package recipe

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/porterkit/bootstrap/bootstrap/arch"
)

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hex64RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	commitRE  = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	digitsRE  = regexp.MustCompile(`^[0-9]+$`)
	treeRE    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	hgNodeRE  = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Builtins are the names ${{ }} knows without a vars: entry; a var may not
// shadow them.
var Builtins = []string{"work", "src", "build", "jobs", "target", "host", "components", "env"}

// ReservedSteps are the step names bootstrap gives a component itself.
var ReservedSteps = []string{"fetch", "patch", "verify"}

// validate checks what the decoder cannot: names, references, pins, files
// and cycles. Expansion of ${{ }} is checked when the plan is compiled.
func validate(r *Recipe, errs *ErrorList) {
	if r.Name.Value != "" && !nameRE.MatchString(r.Name.Value) {
		errs.errorf(r.Name.Pos, "", "", "recipe name %q may only use letters, digits, '.', '_', '+' and '-'", r.Name.Value)
	}
	for _, t := range r.Targets {
		if _, ok := arch.Lookup(t.Value); !ok {
			errs.errorf(t.Pos, "", "", "unknown target %q%s", t.Value, knownTargets(t.Value))
		}
	}
	validateHost(r.Host, errs)
	validateVars(r.Vars, "", errs)
	validateEnv(r.Env, "", "", errs)

	byName := map[string]*Component{}
	for _, c := range r.Components {
		if c.Name.Value == "" {
			errs.errorf(c.Pos, "", "", "component has no name")
			continue
		}
		if !nameRE.MatchString(c.Name.Value) {
			errs.errorf(c.Name.Pos, c.Name.Value, "", "name may only use letters, digits, '.', '_', '+' and '-'")
		}
		if prev, dup := byName[c.Name.Value]; dup {
			errs.errorf(c.Name.Pos, c.Name.Value, "", "duplicate component name (first defined at %s)", prev.Name.Pos)
			continue
		}
		byName[c.Name.Value] = c
	}
	for _, c := range r.Components {
		validateComponent(r, c, byName, errs)
	}
	checkCycles(r, byName, errs)
}

func validateHost(h Host, errs *ErrorList) {
	for _, t := range h.Tools {
		if t.Name.Value == "" {
			errs.errorf(t.Pos, "", "", "host tool has no name")
		}
		if v := t.Version.Value; v != "" {
			if _, err := semver.NewConstraint(v); err != nil {
				errs.errorf(t.Version.Pos, "", "", "bad version constraint %q for tool %s: %v", v, t.Name.Value, err)
			}
		}
	}
	for _, size := range []Str{h.Disk, h.Memory} {
		if size.Value != "" {
			if _, err := ParseSize(size.Value); err != nil {
				errs.errorf(size.Pos, "", "", "%v", err)
			}
		}
	}
}

func validateVars(vars []Var, comp string, errs *ErrorList) {
	for _, v := range vars {
		switch {
		case !varNameRE.MatchString(v.Name.Value):
			errs.errorf(v.Name.Pos, comp, "", "bad variable name %q", v.Name.Value)
		case contains(Builtins, v.Name.Value):
			errs.errorf(v.Name.Pos, comp, "", "variable %q would hide the built-in ${{ %s }}; choose another name", v.Name.Value, v.Name.Value)
		}
	}
}

func validateEnv(env []Var, comp, step string, errs *ErrorList) {
	for _, v := range env {
		if !envNameRE.MatchString(v.Name.Value) {
			errs.errorf(v.Name.Pos, comp, step, "bad environment variable name %q", v.Name.Value)
		}
	}
}

// validateTargetEnv checks that every target_env: key is a known target,
// named once, with valid variable names. A target the recipe does not list
// is allowed: a recipe that extends another may narrow its targets.
func validateTargetEnv(r *Recipe, c *Component, errs *ErrorList) {
	name := c.Name.Value
	seen := map[string]int{}
	for _, te := range c.TargetEnv {
		t, ok := arch.Lookup(te.Target.Value)
		if !ok {
			errs.errorf(te.Target.Pos, name, "", "target_env: unknown target %q%s", te.Target.Value, knownTargets(te.Target.Value))
			continue
		}
		if line, dup := seen[t.Name]; dup {
			errs.errorf(te.Target.Pos, name, "", "target_env: %s is given twice (first at line %d)", t.Name, line)
		}
		seen[t.Name] = te.Target.Pos.Line
		validateEnv(te.Env, name, "", errs)
	}
}

func validateComponent(r *Recipe, c *Component, byName map[string]*Component, errs *ErrorList) {
	name := c.Name.Value
	seenNeed := map[string]bool{}
	for _, n := range c.Needs {
		switch {
		case n.Value == name:
			errs.errorf(n.Pos, name, "", "a component cannot need itself")
		case byName[n.Value] == nil:
			errs.errorf(n.Pos, name, "", "needs unknown component %q%s", n.Value, suggest(n.Value, componentNames(r)))
		case seenNeed[n.Value]:
			errs.errorf(n.Pos, name, "", "needs %q twice", n.Value)
		}
		seenNeed[n.Value] = true
	}
	validateEnv(c.Env, name, "", errs)
	validateTargetEnv(r, c, errs)
	if c.Verify != nil {
		validateVerify(c, byName, errs)
	}
	dests := map[string]bool{}
	for _, s := range c.Sources {
		validateSource(r, name, s, errs)
		dest := filepath.Clean(orDot(s.Dest.Value))
		if dests[dest] {
			errs.errorf(s.Pos, name, "", "two sources unpack into the same dest %q; give each its own dest:", dest)
		}
		dests[dest] = true
	}
	if len(c.Patches) > 0 && len(c.Sources) == 0 {
		errs.errorf(c.Patches[0].Pos, name, "", "patches need a source to apply to")
	}
	for _, p := range c.Patches {
		validatePatch(r, name, p, errs)
	}
	for _, q := range c.Requires {
		if q.Tool.Value == "" {
			errs.errorf(q.Pos, name, "", "requirement has no tool:")
		}
		switch v := q.Version.Value; {
		case v == "":
			errs.errorf(q.Pos, name, "", "requirement on %s has no version: (a semver range such as \">= 1.17\", or go-source)", q.Tool.Value)
		case v == "go-source":
		default:
			if _, err := semver.NewConstraint(v); err != nil {
				errs.errorf(q.Version.Pos, name, "", "bad version constraint %q: %v", v, err)
			}
		}
	}
	for _, t := range c.Tools {
		if strings.TrimSpace(t.Value) == "" {
			errs.errorf(t.Pos, name, "", "tools: an entry is empty; name a program (gcc) or give its path")
		}
	}
	if len(c.Steps) == 0 && len(c.Sources) == 0 {
		errs.errorf(c.Pos, name, "", "component has neither a source nor steps")
	}
	steps := map[string]*Step{}
	for _, s := range c.Steps {
		sn := s.Name.Value
		switch {
		case sn == "":
			errs.errorf(s.Pos, name, "", "step has no name")
		case !nameRE.MatchString(sn):
			errs.errorf(s.Name.Pos, name, sn, "step name may only use letters, digits, '.', '_', '+' and '-'")
		case contains(ReservedSteps, sn):
			errs.errorf(s.Name.Pos, name, sn, "step name %q is reserved for the step bootstrap adds itself", sn)
		case steps[sn] != nil:
			errs.errorf(s.Name.Pos, name, sn, "duplicate step name (first defined at %s)", steps[sn].Name.Pos)
		}
		if sn != "" && steps[sn] == nil {
			steps[sn] = s
		}
		if strings.TrimSpace(s.Run.Value) == "" {
			errs.errorf(s.Pos, name, sn, "step has nothing to run: add `run: …`")
		}
		if sh := s.Shell.Value; sh != "" && sh != "sh" && sh != "bash" {
			errs.errorf(s.Shell.Pos, name, sn, "shell must be sh or bash, not %q", sh)
		}
		validateEnv(s.Env, name, sn, errs)
		validateException(s, name, sn, errs)
	}
}

// validateException checks that a step which leaves the sandbox says why:
// the reason is what a reviewer of the recipe, plan and provenance reads.
func validateException(s *Step, comp, step string, errs *ErrorList) {
	exception := s.Network || s.Privileged
	reason := strings.TrimSpace(s.Reason.Value)
	switch {
	case exception && reason == "":
		errs.errorf(s.Pos, comp, step, "a step with network: true or privileged: true needs a reason: saying why")
	case !exception && reason != "":
		errs.errorf(s.Reason.Pos, comp, step, "reason: is for a step with network: true or privileged: true")
	}
}

func validateSource(r *Recipe, comp string, s *Source, errs *ErrorList) {
	kinds := s.kinds()
	switch len(kinds) {
	case 0:
		errs.errorf(s.Pos, comp, "", "source names no origin: give url:, git:, dir:, svn:, hg: or gomod:")
		return
	case 1:
	default:
		errs.errorf(s.Pos, comp, "", "source gives %s; a source has exactly one origin (use sources: for several)", strings.Join(kinds, " and "))
		return
	}
	// Each downloadable kind is pinned by one field of a known form.
	pins := map[string]struct {
		field      string
		val        Str
		form       *regexp.Regexp
		add, which string
	}{
		"url": {"sha256", s.SHA256, hex64RE, "sha256: <hex digest>", "a 64-digit lowercase hex digest"},
		"git": {"commit", s.Commit, commitRE, "commit: <full commit hash> (ref: alone can move)", "a full lowercase hex commit hash"},
		"svn": {"revision", s.Revision, digitsRE, "revision: <number>", "a revision number"},
		"hg":  {"changeset", s.Changeset, hgNodeRE, "changeset: <40-digit node id>", "a full 40-digit changeset id"},
	}
	if kinds[0] == "svn" && s.Revision.Value != "" && s.Tree.Value == "" {
		// A revision number names no content: the tree hash does.
		errs.errorf(s.Pos, comp, "", "svn source is not pinned by its content: add tree: sha256:<tree hash of the exported tree> (run `bootstrap pin` to fill it in)")
	}
	if t := s.Tree; t.Value != "" {
		switch {
		case kinds[0] != "svn" && kinds[0] != "hg":
			errs.errorf(t.Pos, comp, "", "tree: applies to svn: and hg: sources (a %s source is pinned by its own digest)", kinds[0])
		case !treeRE.MatchString(t.Value):
			errs.errorf(t.Pos, comp, "", "tree %q is not sha256:<64 lowercase hex digits>", t.Value)
		}
	}
	// A gomod: zip has golang.org/x/mod/zip's own caps (500 MiB, checked
	// by CheckZip); git, svn and hg trees come from their own tools.
	if s.Size != 0 && kinds[0] != "url" {
		errs.errorf(s.SizePos, comp, "", "size: applies to url: sources (a gomod: zip is capped at 500 MiB by golang.org/x/mod)")
	}
	if s.UnpackedSize != 0 && kinds[0] != "url" {
		errs.errorf(s.UnpackedSizePos, comp, "", "unpacked_size: applies to url: sources (a gomod: zip is capped at 500 MiB by golang.org/x/mod)")
	}
	if pin, ok := pins[kinds[0]]; ok {
		switch {
		case pin.val.Value == "":
			errs.errorf(s.Pos, comp, "", "%s source is not pinned: add %s (run `bootstrap pin` to fill it in)", kinds[0], pin.add)
		case !pin.form.MatchString(pin.val.Value):
			errs.errorf(pin.val.Pos, comp, "", "%s %q is not %s", pin.field, pin.val.Value, pin.which)
		}
	}
	switch kinds[0] {
	case "url":
		for _, u := range s.URL {
			if u.Value == "" {
				errs.errorf(u.Pos, comp, "", "empty url")
			}
		}
	case "gomod":
		validateGoMod(s.GoMod, s.H1, comp, errs)
		if s.Strip != 0 {
			errs.errorf(s.StripPos, comp, "", "strip: does not apply to gomod: sources (the MODULE@VERSION/ prefix is always removed)")
		}
	case "dir":
		if s.Strip != 0 {
			errs.errorf(s.StripPos, comp, "", "strip: applies to archives, not to dir: sources")
		}
		if p := s.Dir.Value; !strings.Contains(p, "${{") {
			if fi, err := os.Stat(resolveIn(r.DirOf(s.Dir), p)); err != nil || !fi.IsDir() {
				errs.errorf(s.Dir.Pos, comp, "", "dir %q does not exist or is not a directory", p)
			}
		}
	}
	if s.Strip < 0 {
		errs.errorf(s.StripPos, comp, "", "strip must not be negative")
	}
	if d := s.Dest.Value; d != "" && (filepath.IsAbs(d) || strings.HasPrefix(filepath.Clean(d), "..")) {
		errs.errorf(s.Dest.Pos, comp, "", "dest %q must stay inside the component's source tree", d)
	}
}

func validatePatch(r *Recipe, comp string, p *Patch, errs *ErrorList) {
	switch {
	case p.File.Value == "" && p.Series.Value == "":
		errs.errorf(p.Pos, comp, "", "patch entry needs file: or series:")
		return
	case p.File.Value != "" && p.Series.Value != "":
		errs.errorf(p.Pos, comp, "", "patch entry gives both file: and series:; use one entry for each")
		return
	}
	if p.Strip < 0 {
		errs.errorf(p.Pos, comp, "", "strip must not be negative")
	}
	if p.Fuzz < 0 || p.Fuzz > 3 {
		errs.errorf(p.Pos, comp, "", "fuzz must be between 0 and 3, not %d", p.Fuzz)
	}
	f := p.File
	if f.Value == "" {
		f = p.Series
	}
	if strings.Contains(f.Value, "${{") {
		return // resolved and checked when the plan is compiled
	}
	if fi, err := os.Stat(resolveIn(r.DirOf(f), f.Value)); err != nil || fi.IsDir() {
		errs.errorf(f.Pos, comp, "", "patch file %q not found (paths are relative to the recipe's directory)", f.Value)
	}
}

// checkCycles reports each cycle in needs once, at the need that closes it.
func checkCycles(r *Recipe, byName map[string]*Component, errs *ErrorList) {
	const (
		unvisited = iota
		active
		finished
	)
	state := map[string]int{}
	var stack []string
	var visit func(c *Component)
	visit = func(c *Component) {
		state[c.Name.Value] = active
		stack = append(stack, c.Name.Value)
		for _, n := range c.Needs {
			dep := byName[n.Value]
			if dep == nil || dep == c {
				continue
			}
			switch state[n.Value] {
			case active:
				i := indexOf(stack, n.Value)
				cycle := append(append([]string{}, stack[i:]...), n.Value)
				errs.errorf(n.Pos, c.Name.Value, "", "cycle in needs: %s", strings.Join(cycle, " → "))
			case unvisited:
				visit(dep)
			}
		}
		stack = stack[:len(stack)-1]
		state[c.Name.Value] = finished
	}
	for _, c := range r.Components {
		if byName[c.Name.Value] == c && state[c.Name.Value] == unvisited {
			visit(c)
		}
	}
}

// knownTargets ends an "unknown target" message: a suggestion when name is
// close to a target's name, and the list of targets. (It used to point at
// `bootstrap arch --list`, a flag that does not exist.)
func knownTargets(name string) string {
	var names []string
	for _, t := range arch.Targets() {
		names = append(names, t.Name)
	}
	return suggest(name, names) + "; known targets: " + strings.Join(names, ", ")
}

// Resolve makes a path from the recipe absolute, relative to the recipe's
// directory.
func (r *Recipe) Resolve(p string) string { return resolve(r, p) }

func resolve(r *Recipe, p string) string { return resolveIn(r.Dir(), p) }

func resolveIn(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func componentNames(r *Recipe) []string {
	var out []string
	for _, c := range r.Components {
		out = append(out, c.Name.Value)
	}
	return out
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
