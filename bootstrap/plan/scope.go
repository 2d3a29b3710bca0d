package plan

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/expand"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// scope resolves ${{ }} names for one component. Variables are expanded
// lazily where they are used, so a var may refer to ${{ src }} and mean the
// source tree of whichever component uses it.
type scope struct {
	c    *compiler
	comp *recipe.Component
	step string
	// vars caches expanded variables; the key carries the signature flag.
	vars map[string]string
	// resolving holds the variables being expanded, to catch cycles.
	resolving []string
}

// errReported marks a lookup whose problem was already recorded at a more
// precise place (inside a variable's own value).
var errReported = errors.New("reported")

func (x *scope) errorf(pos recipe.Pos, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, e := range x.c.errs {
		if e.Pos == pos && e.Msg == msg {
			return
		}
	}
	x.c.errs.Add(&recipe.Error{Pos: pos, Component: x.comp.Name.Value, Step: x.step, Msg: msg})
}

// report records an expansion error at the exact place inside s.
func (x *scope) report(s recipe.Str, err error) {
	var se *expand.SyntaxError
	var re *expand.RefError
	switch {
	case errors.Is(err, errReported):
	case errors.As(err, &se):
		x.errorf(s.At(se.Off), "%s", se.Msg)
	case errors.As(err, &re):
		x.errorf(s.At(re.Off), "%v", re.Err)
	default:
		x.errorf(s.Pos, "%v", err)
	}
}

func (x *scope) plain(s recipe.Str) string {
	v, err := expand.Plain(s.Value, func(n string) (string, error) { return x.lookup(n, false) })
	if err != nil {
		x.report(s, err)
	}
	return v
}

func (x *scope) shell(s recipe.Str) string {
	v, err := expand.Shell(s.Value, func(n string) (string, error) { return x.lookup(n, false) })
	if err != nil {
		x.report(s, err)
	}
	return v
}

// shellForSignature expands a script the way its signature sees it: with
// ${{ jobs }} left as a placeholder. Errors were reported by shell already.
func (x *scope) shellForSignature(s recipe.Str) string {
	v, _ := expand.Shell(s.Value, func(n string) (string, error) { return x.lookup(n, true) })
	return v
}

// path expands a path and makes it absolute against base.
func (x *scope) path(s recipe.Str, base string) string {
	v := x.plain(s)
	if v == "" || filepath.IsAbs(v) {
		return filepath.Clean(v)
	}
	return filepath.Join(base, v)
}

// env expands an env: mapping into dst (a new map when nil).
func (x *scope) env(vars []recipe.Var, dst map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	for _, v := range vars {
		dst[v.Name.Value] = x.plain(v.Value)
	}
	return dst
}

// lookup resolves one name. With sig set, names whose value must not affect
// signatures (jobs) resolve to a placeholder.
func (x *scope) lookup(name string, sig bool) (string, error) {
	c := x.c
	switch {
	case name == "work":
		return c.root(), nil
	case name == "src":
		return c.stepSrc(x.comp.Name.Value), nil
	case name == "build":
		return c.stepBuild(x.comp.Name.Value), nil
	case name == "jobs":
		if sig {
			return jobsPlaceholder, nil
		}
		return itoa(max(c.opts.Jobs, 1)), nil
	case strings.HasPrefix(name, "target."):
		return fromMap("target", strings.TrimPrefix(name, "target."), c.tgt.Vars())
	case strings.HasPrefix(name, "host."):
		return fromMap("host", strings.TrimPrefix(name, "host."), c.opts.Host.Vars())
	case strings.HasPrefix(name, "components."):
		return x.component(strings.TrimPrefix(name, "components."))
	case strings.HasPrefix(name, "env."):
		key := strings.TrimPrefix(name, "env.")
		if c.opts.Getenv != nil {
			if v, ok := c.opts.Getenv(key); ok {
				return v, nil
			}
		}
		return "", fmt.Errorf("environment variable %s is not set (the recipe reads it with ${{ env.%s }})", key, key)
	}
	return x.variable(name, sig)
}

func fromMap(prefix, key string, m map[string]string) (string, error) {
	if v, ok := m[key]; ok {
		return v, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "", fmt.Errorf("unknown name %s.%s%s; %s has: %s", prefix, key, recipe.Suggest(key, keys), prefix, strings.Join(keys, ", "))
}

// component resolves components.<name>.src|build. The component must be
// needed, directly or through others, or the order of the build would not
// guarantee that its tree exists.
func (x *scope) component(rest string) (string, error) {
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", fmt.Errorf("write components.<name>.src or components.<name>.build")
	}
	name, field := rest[:i], rest[i+1:]
	if x.c.comps[name] == nil {
		var names []string
		for n := range x.c.comps {
			names = append(names, n)
		}
		return "", fmt.Errorf("unknown component %q%s", name, recipe.Suggest(name, names))
	}
	if name != x.comp.Name.Value && !x.c.needsTransitively(x.comp, name) {
		return "", fmt.Errorf("uses component %s but does not need it: add %s to needs", name, name)
	}
	switch field {
	case "src":
		return x.c.stepSrc(name), nil
	case "build":
		return x.c.stepBuild(name), nil
	}
	return "", fmt.Errorf("unknown field %q of component %s: use src or build", field, name)
}

func (c *compiler) needsTransitively(from *recipe.Component, name string) bool {
	seen := map[string]bool{}
	var walk func(comp *recipe.Component) bool
	walk = func(comp *recipe.Component) bool {
		for _, n := range comp.Needs {
			if n.Value == name {
				return true
			}
			if !seen[n.Value] && c.comps[n.Value] != nil {
				seen[n.Value] = true
				if walk(c.comps[n.Value]) {
					return true
				}
			}
		}
		return false
	}
	return walk(from)
}

// variable expands a vars: entry in this scope.
func (x *scope) variable(name string, sig bool) (string, error) {
	key := fmt.Sprintf("%s/%v", name, sig)
	if v, ok := x.vars[key]; ok {
		return v, nil
	}
	var def *recipe.Var
	var names []string
	for i, v := range x.c.r.Vars {
		names = append(names, v.Name.Value)
		if v.Name.Value == name {
			def = &x.c.r.Vars[i]
		}
	}
	if def == nil {
		names = append(names, recipe.Builtins...)
		return "", fmt.Errorf("unknown name %q in ${{ }}%s", name, recipe.Suggest(name, names))
	}
	for i, r := range x.resolving {
		if r == name {
			return "", fmt.Errorf("variable %s refers to itself: %s → %s", name, strings.Join(x.resolving[i:], " → "), name)
		}
	}
	x.resolving = append(x.resolving, name)
	defer func() { x.resolving = x.resolving[:len(x.resolving)-1] }()
	v, err := expand.Plain(def.Value.Value, func(n string) (string, error) { return x.lookup(n, sig) })
	if err != nil {
		if !sig {
			x.report(def.Value, err)
		}
		return "", errReported
	}
	x.vars[key] = v
	return v, nil
}
