package plan

import (
	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// Verification is an expanded verify: block: the artifact a component
// built and the official artifact it must be bit-identical to.
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
	// Reference is the official artifact's identity as it goes into the
	// signature: "gomod:<module>@<version> <h1>" or "sha256:<hex>".
	Reference string
	// Pos is where the verify: block is written.
	Pos recipe.Pos
}

// verifies reports whether a component ends with a verify step for the
// plan's target: it has a verify: block with a reference, and skip: does
// not apply (a per-target pin lists the target, or there is no skip:).
func (c *compiler) verifies(comp *recipe.Component) bool {
	v := comp.Verify
	if v == nil || len(comp.Steps) == 0 || (v.GoMod.Value == "" && !v.SHA256.Set()) {
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
	if v.GoMod.Value != "" {
		vf.Module, vf.Version, _ = recipe.SplitGoMod(x.plain(v.GoMod))
		vf.H1 = x.pin(v.H1, "h1")
		vf.Reference = "gomod:" + vf.Module + "@" + vf.Version + " " + vf.H1
	} else {
		vf.SHA256 = x.pin(v.SHA256, "sha256")
		vf.Reference = "sha256:" + vf.SHA256
	}
	st.Verify = vf
	st.Inputs["verify.file"] = file // as steps see it: location-free
	st.Inputs["verify.reference"] = vf.Reference
	st.Outputs = []string{vf.File}
	return st
}

// Source is the official artifact as a gomod source, so that `fetch` can
// fill the cache with it like any source; ok is false for a sha256:
// reference, which is looked up in the cache only.
func (v *Verification) Source() (src Source, ok bool) {
	if v.Module == "" {
		return Source{}, false
	}
	return Source{Kind: "gomod", Module: v.Module, Version: v.Version, H1: v.H1, Dest: ".",
		Identity: v.Reference, Pos: v.Pos}, true
}
