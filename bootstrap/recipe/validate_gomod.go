package recipe

import (
	"regexp"
	"sort"
	"strings"

	"golang.org/x/mod/module"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// h1RE is the form of a module's dirhash as go.sum writes it: "h1:" and the
// base64 of a SHA-256 (golang.org/x/mod/sumdb/dirhash Hash1).
var h1RE = regexp.MustCompile(`^h1:[A-Za-z0-9+/]{43}=$`)

// SplitGoMod splits "MODULE@VERSION"; ok is false when there is no '@'.
func SplitGoMod(s string) (mod, version string, ok bool) {
	i := strings.LastIndexByte(s, '@')
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// validateGoMod checks a gomod: reference and its h1 pin, as a source or
// as a verify: reference.
func validateGoMod(ref Str, h1 PerTarget, comp string, errs *ErrorList) {
	if !strings.Contains(ref.Value, "${{") {
		mod, ver, ok := SplitGoMod(ref.Value)
		switch {
		case !ok:
			errs.errorf(ref.Pos, comp, "", "gomod %q is not MODULE@VERSION", ref.Value)
		default:
			if err := module.Check(mod, ver); err != nil {
				errs.errorf(ref.Pos, comp, "", "gomod %q: %v", ref.Value, err)
			}
		}
	}
	if !h1.Set() {
		errs.errorf(ref.Pos, comp, "", "gomod source is not pinned: add h1: h1:… (the Sum that `go mod download -json %s` prints)", ref.Value)
		return
	}
	validatePerTarget(h1, "h1", h1RE, "an h1: dirhash like go.sum's (h1: and 44 base64 characters)", comp, errs)
}

// validatePerTarget checks every value of a per-target pin against form and
// every target name against the table of targets.
func validatePerTarget(p PerTarget, field string, form *regexp.Regexp, which, comp string, errs *ErrorList) {
	if len(p.ByTarget) == 0 {
		if !form.MatchString(p.Value) {
			errs.errorf(p.Pos, comp, "", "%s %q is not %s", field, p.Value, which)
		}
		return
	}
	for _, v := range p.ByTarget {
		if _, ok := arch.Lookup(v.Name.Value); !ok {
			errs.errorf(v.Name.Pos, comp, "", "%s: unknown target %q%s", field, v.Name.Value, knownTargets(v.Name.Value))
		}
		if !form.MatchString(v.Value.Value) {
			errs.errorf(v.Value.Pos, comp, "", "%s for %s %q is not %s", field, v.Name.Value, v.Value.Value, which)
		}
	}
}

// validateVerify checks a component's verify: block: an artifact and
// exactly one reference (gomod: + h1:, sha256:, or component: + other:),
// or skip: with a reason. skip: may also come with a per-target pin: it
// then says why the targets the mapping does not list go unverified.
func validateVerify(c *Component, byName map[string]*Component, errs *ErrorList) {
	v, name := c.Verify, c.Name.Value
	hasMod, hasSum, hasSkip := v.GoMod.Value != "", v.SHA256.Set(), v.Skip.Value != ""
	if v.Component.Value != "" || v.Other.Value != "" {
		validateVerifyComponent(c, byName, errs)
		return
	}
	switch {
	case !hasMod && !hasSum && !hasSkip:
		errs.errorf(v.Pos, name, "", "verify: needs a reference (gomod: + h1:, sha256:, or component: + other:) or skip: REASON")
		return
	case hasMod && hasSum:
		errs.errorf(v.Pos, name, "", "verify: gives both gomod: and sha256:; use one")
		return
	case hasSkip && !hasMod && !hasSum:
		if v.File.Value != "" || v.H1.Set() {
			errs.errorf(v.Pos, name, "", "verify: with skip: alone compares nothing; drop file: and h1:")
		}
		return
	case hasSkip && len(v.H1.ByTarget) == 0 && len(v.SHA256.ByTarget) == 0:
		errs.errorf(v.Skip.Pos, name, "", "skip: next to a reference applies to the targets a per-target h1:/sha256: mapping leaves out; with a single pin, drop one of them")
	}
	validateVerifyBuilds(c, errs)
	if hasMod {
		validateGoMod(v.GoMod, v.H1, name, errs)
		return
	}
	if v.H1.Set() {
		errs.errorf(v.H1.Pos, name, "", "h1: pins a gomod: reference; with sha256: drop it")
	}
	validatePerTarget(v.SHA256, "sha256", hex64RE, "a 64-digit lowercase hex digest", name, errs)
}

// validateVerifyBuilds checks that a verify: block with a reference names
// the artifact and that the component has steps to build it.
func validateVerifyBuilds(c *Component, errs *ErrorList) {
	v, name := c.Verify, c.Name.Value
	if v.File.Value == "" {
		errs.errorf(v.Pos, name, "", "verify: needs file:, the artifact the build produced")
	}
	if len(c.Steps) == 0 {
		errs.errorf(v.Pos, name, "", "verify: needs steps that build the artifact")
	}
}

// validateVerifyComponent checks a verify: block against another
// component's build: component: and other: together, no other reference,
// and a component this one needs (directly or through others), so that
// its artifact is built before the comparison runs.
func validateVerifyComponent(c *Component, byName map[string]*Component, errs *ErrorList) {
	v, name := c.Verify, c.Name.Value
	if v.GoMod.Value != "" || v.SHA256.Set() || v.H1.Set() || v.Skip.Value != "" {
		errs.errorf(v.Pos, name, "", "verify: against another component's build (component: + other:) takes no gomod:, h1:, sha256: or skip:; use one reference")
	}
	validateVerifyBuilds(c, errs)
	other := v.Component
	switch {
	case other.Value == "":
		errs.errorf(v.Other.Pos, name, "", "verify: other: needs component:, the component that built it")
		return
	case v.Other.Value == "":
		errs.errorf(other.Pos, name, "", "verify: component: needs other:, the artifact %s built to compare with", other.Value)
	}
	switch {
	case other.Value == name:
		errs.errorf(other.Pos, name, "", "verify: component: names this component itself; name the component that builds the same artifact another way")
	case byName[other.Value] == nil:
		errs.errorf(other.Pos, name, "", "verify: component: unknown component %q%s", other.Value, suggest(other.Value, names(byName)))
	case !needs(c, other.Value, byName):
		errs.errorf(other.Pos, name, "", "verify: component: %s is not needed by %s: add it to needs (directly or through another component), so that it is built first", other.Value, name)
	}
}

// needs reports whether c needs the component called name, directly or
// through others.
func needs(c *Component, name string, byName map[string]*Component) bool {
	seen := map[string]bool{}
	var walk func(c *Component) bool
	walk = func(c *Component) bool {
		for _, n := range c.Needs {
			if n.Value == name {
				return true
			}
			if dep := byName[n.Value]; dep != nil && !seen[n.Value] {
				seen[n.Value] = true
				if walk(dep) {
					return true
				}
			}
		}
		return false
	}
	return walk(c)
}

// names lists the keys of byName, sorted.
func names(byName map[string]*Component) []string {
	out := make([]string, 0, len(byName))
	for n := range byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
