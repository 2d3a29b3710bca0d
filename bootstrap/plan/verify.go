package plan

import (
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// Verification is an expanded verify: block: the artifact a component
// built and the reference it must be bit-identical to, the official
// artifact or another component's independent build of it.
type Verification struct {
	// File is the absolute path of the artifact the build produced.
	File string
	// Module and Version name the official artifact as a Go module zip,
	// pinned by H1 (set together).
	Module  string
	Version string
	H1      string
	// SHA256 pins the official artifact by digest instead.
	SHA256 string
	// Component, instead of an official artifact, names the component
	// that built the same artifact another way, and Other is that
	// artifact's absolute path. Its steps' signatures are in this step's
	// (through needs), so a rebuild of it verifies again.
	Component string
	Other     string
	// Reference is the reference's identity as it goes into the
	// signature: "gomod:<module>@<version> <h1>", "sha256:<hex>" or
	// "component:<name> <path>".
	Reference string
	// Pos is where the verify: block is written.
	Pos recipe.Pos
}

// verifies reports whether a component ends with a verify step for the
// plan's target: it has a verify: block with a reference, and skip: does
// not apply (a per-target pin lists the target, or there is no skip:).
func (c *compiler) verifies(comp *recipe.Component) bool {
	v := comp.Verify
	if v == nil || len(comp.Steps) == 0 {
		return false
	}
	if v.Component.Value != "" {
		return true
	}
	if v.GoMod.Value == "" && !v.SHA256.Set() {
		return false
	}
	if v.Skip.Value == "" {
		return true
	}
	pin := v.H1
	if v.GoMod.Value == "" {
		pin = v.SHA256
	}
	_, ok := pin.For(c.tgt.Name, sameTarget)
	return ok
}

// VerifySkipped says why a component is not verified for the plan's
// target ("" when it is, or has no verify: block).
func (p *Plan) VerifySkipped(comp *recipe.Component) string {
	if comp.Verify == nil || p.Step(comp.Name.Value+":verify") != nil {
		return ""
	}
	return comp.Verify.Skip.Value
}

// sameTarget matches a target name written in a per-target pin against
// the target being compiled for, through the table's aliases.
func sameTarget(name, target string) bool {
	t, ok := arch.Lookup(name)
	return ok && t.Name == target
}

// pin picks a per-target value for the plan's target, reporting a missing
// one at the pin's position.
func (x *scope) pin(p recipe.PerTarget, field string) string {
	v, ok := p.For(x.c.tgt.Name, sameTarget)
	if !ok {
		x.errorf(p.Pos, "%s: no value for target %s", field, x.c.tgt.Name)
	}
	return v.Value
}

// goModSource fills in a gomod: source: module, version, the target's h1
// and the content identity.
func (x *scope) goModSource(s *recipe.Source, src *Source) {
	src.Module, src.Version, _ = recipe.SplitGoMod(x.plain(s.GoMod))
	src.H1 = x.pin(s.H1, "h1")
	src.Identity = "gomod:" + src.Module + "@" + src.Version + " " + src.H1
}

// verifyStep builds the component's verify step, after its last run step
// (prev); nil when the component verifies nothing. The artifact is a
// declared output of the step, so a missing or changed artifact shows in
// its checkpoint.
func (x *scope) verifyStep(prev string) *Step {
	comp := x.comp
	if !x.c.verifies(comp) {
		return nil
	}
	name := comp.Name.Value
	v := comp.Verify
	x.step = "verify"
	defer func() { x.step = "" }()
	st := &Step{ID: name + ":verify", Component: name, Name: "verify", Kind: KindVerify, Pos: v.Pos,
		SrcDir: x.c.srcDir(name), BuildDir: x.c.buildDir(name), Deps: []string{prev},
		Inputs: map[string]string{"kind": string(KindVerify)}}
	file := x.path(v.File, x.c.stepBuild(name))
	vf := &Verification{File: x.c.real(file), Pos: v.Pos}
	switch {
	case v.Component.Value != "":
		// The reference names the other build as steps see it: the
		// signature stays location-free; bootstrap compares real files.
		other := x.path(v.Other, x.c.stepBuild(v.Component.Value))
		vf.Component = v.Component.Value
		vf.Other = x.c.real(other)
		vf.Reference = "component:" + vf.Component + " " + other
		x.otherIsOther(v.Other, vf, st)
	case v.GoMod.Value != "":
		vf.Module, vf.Version, _ = recipe.SplitGoMod(x.plain(v.GoMod))
		vf.H1 = x.pin(v.H1, "h1")
		vf.Reference = "gomod:" + vf.Module + "@" + vf.Version + " " + vf.H1
	default:
		vf.SHA256 = x.pin(v.SHA256, "sha256")
		vf.Reference = "sha256:" + vf.SHA256
	}
	st.Verify = vf
	st.Inputs["verify.file"] = file // as steps see it: location-free
	st.Inputs["verify.reference"] = vf.Reference
	st.Outputs = []string{vf.File}
	if vf.Other != "" {
		// The other build changing (rebuilt by --force, or tampered with)
		// makes the verdict stale as much as this one changing.
		st.Outputs = append(st.Outputs, vf.Other)
	}
	return st
}

// otherIsOther reports an other: that is the artifact itself or lies in
// this component's own trees: the comparison would be with itself, and
// "bit-identical" would prove nothing.
func (x *scope) otherIsOther(at recipe.Str, vf *Verification, st *Step) {
	switch {
	case vf.Other == vf.File:
		x.errorf(at.Pos, "other: %s is file: itself; name %s's artifact (${{ components.%s.src }}/…, or a path relative to its build dir)", vf.Other, vf.Component, vf.Component)
	case within(vf.Other, st.SrcDir) || within(vf.Other, st.BuildDir):
		x.errorf(at.Pos, "other: %s is inside %s's own trees, not %s's build; name %s's artifact (${{ components.%s.src }}/…, or a path relative to its build dir)",
			vf.Other, st.Component, vf.Component, vf.Component, vf.Component)
	}
}

// within reports whether path is dir or inside it (both clean and
// absolute).
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// Independent reports whether the reference is another component's
// build rather than an official artifact.
func (v *Verification) Independent() bool { return v.Component != "" }

// Describe says in a few words what the artifact is compared with, for
// plan and the record: "the official golang.org/toolchain@v0.0.1-…" or
// "go-cross's independent build".
func (v *Verification) Describe() string {
	switch {
	case v.Component != "":
		return v.Component + "'s independent build"
	case v.Module != "":
		return "the official " + v.Module + "@" + v.Version
	}
	return "the official artifact sha256:" + v.SHA256[:min(16, len(v.SHA256))] + "…"
}

// Fetched is what a step takes from outside ahead of the build: a fetch
// step's sources, or a verify step's official artifact (fetched like a
// source); nil for any other step.
func (s *Step) Fetched() []Source {
	switch s.Kind {
	case KindFetch:
		return s.Sources
	case KindVerify:
		if ref, ok := s.Verify.Source(); ok {
			return []Source{ref}
		}
	}
	return nil
}

// Source is the official artifact as a gomod source, so that `fetch` can
// fill the cache with it like any source; ok is false for a sha256:
// reference, which is looked up in the cache only, and for another
// component's build.
func (v *Verification) Source() (src Source, ok bool) {
	if v.Module == "" {
		return Source{}, false
	}
	return Source{Kind: "gomod", Module: v.Module, Version: v.Version, H1: v.H1, Dest: ".",
		Identity: v.Reference, Pos: v.Pos}, true
}
