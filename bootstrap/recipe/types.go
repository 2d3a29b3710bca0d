// Package recipe holds the typed form of a bootstrap recipe (schema v1) and
// loads it from YAML strictly: every value keeps the file, line and column it
// came from, unknown keys are errors, and all problems in a file are reported
// together. Expansion of ${{ }} references happens later, in package plan.
package recipe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pos is a place in a recipe file, 1-based like editors count.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the position as file:line:col, the form editors jump to.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Str is a string value from the recipe together with where it was written.
// Style records how the YAML scalar was written (plain, quoted, literal
// block…) so that an error inside a multi-line value can point at its line.
type Str struct {
	Value string
	Pos   Pos
	// Block is true for literal (|) and folded (>) scalars, whose content
	// starts on the line after Pos.
	Block bool
	// Quoted is true for single- or double-quoted scalars, whose content
	// starts one column after Pos.
	Quoted bool
	// Indent is the indentation of a block scalar's content lines.
	Indent int
}

// At returns the position of byte offset off inside the value, so that an
// error about part of a long script points at the right line and column.
func (s Str) At(off int) Pos {
	if off > len(s.Value) {
		off = len(s.Value)
	}
	before := s.Value[:off]
	nl := strings.Count(before, "\n")
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:])
	p := s.Pos
	switch {
	case s.Block:
		p.Line += 1 + nl
		p.Col = s.Indent + 1 + col
	case nl > 0:
		p.Line += nl // a multi-line flow scalar: the column is a guess
		p.Col = 1 + col
	default:
		p.Col += col
		if s.Quoted {
			p.Col++
		}
	}
	return p
}

// Recipe is one YAML recipe file: a chain of components to build.
type Recipe struct {
	// File is the path the recipe was loaded from; relative patch and dir
	// paths are resolved against its directory.
	File string
	// Files are the recipe's own file and every base it extends, in that
	// order, as absolute paths: what a run elsewhere (a board, a pod)
	// must be sent to load it.
	Files []string
	// Extends names a base recipe (relative to this file) whose
	// components, vars, env and host needs this one starts from; see
	// merge for how the two combine.
	Extends Str
	// Name identifies the recipe; it names the default work dir.
	Name Str
	// Description is one line shown by `bootstrap list`.
	Description Str
	// Targets lists the GOARCH-style target names this recipe supports.
	Targets []Str
	// Host lists what the build machine must have (checked by doctor).
	Host Host
	// Vars are user variables, usable as ${{ name }} everywhere.
	Vars []Var
	// Env applies to every step of every component.
	Env []Var
	// Components are the builds, in file order.
	Components []*Component
}

// Host describes what the build machine needs before anything runs.
type Host struct {
	Pos Pos
	// Tools must be on PATH, optionally with a version constraint.
	Tools []Tool
	// Packages are Debian package names that must be installed.
	Packages []Str
	// Disk is the free space the work dir needs, like "20G".
	Disk Str
	// Memory is the RAM the build needs, like "4G".
	Memory Str
	// Kernel lists kernel config options that must be set, like
	// CONFIG_OVERLAY_FS (read from /proc/config.gz or /boot/config-*).
	Kernel []Str
	// Binfmt lists binfmt_misc handlers that must be registered, like
	// qemu-ppc64le.
	Binfmt []Str
	// Suite is the Debian release an emulated run's root file system is
	// made of (default bookworm). Packages are installed in it.
	Suite Str
}

// Tool is a program that must be on PATH. Written either as a bare name or as
// a mapping {name: gcc, version: ">=4.9"}.
type Tool struct {
	Pos     Pos
	Name    Str
	Version Str
}

// Var is a name/value pair from vars: or env:, kept in file order.
type Var struct {
	Name  Str
	Value Str
}

// Component is one source build: sources, patches and steps.
type Component struct {
	Pos  Pos
	Name Str
	// Needs names components whose last step must be done before this
	// component's first own step runs.
	Needs []Str
	// Sources are fetched and unpacked, each into Dest inside the tree.
	// `source:` in YAML is a one-element list here.
	Sources []*Source
	// Patches are applied, in order, to the unpacked tree.
	Patches []*Patch
	// Env applies to every step of this component, over the recipe's env.
	Env []Var
	// TargetEnv adds variables for some targets only, over Env: a work-
	// around one target's toolchain needs stays out of the other targets'
	// step signatures, so adding it reruns nothing elsewhere.
	TargetEnv []TargetEnv
	// Requires are version checks run before the first own step. Their
	// tools also count as Tools.
	Requires []*Requirement
	// Tools are the host programs the component's steps build with (gcc,
	// make): on the host executor each one's identity (resolved path,
	// digest, version) is a signature input of every run step, so
	// upgrading one reruns exactly the components that name it.
	Tools []Str
	// Steps run in order after the patch step.
	Steps []*Step
	// Outputs are paths whose content is hashed into the last step's
	// checkpoint; a missing output makes that step stale.
	Outputs []Str
	// Verify, when set, compares an artifact the build produced with the
	// official one, as the component's last step.
	Verify *Verify
}

// Verify is a component's `verify:` block: the artifact it built and the
// reference it must be bit-identical to: the official artifact, or the
// same artifact built another way by another component.
type Verify struct {
	Pos Pos
	// File is the artifact the build produced, e.g.
	// ${{ src }}/pkg/distpack/v0.0.1-go1.27.4.linux-amd64.zip.
	File Str
	// GoMod names the official artifact as a module version,
	// MODULE@VERSION, fetched like a gomod: source and pinned by H1.
	GoMod Str
	H1    PerTarget
	// SHA256 pins the official artifact by its digest instead; the file
	// itself is looked up in the cache to list what differs.
	SHA256 PerTarget
	// Skip, instead of a reference, says why this component cannot be
	// verified (for Go before 1.21: "not reproducible upstream"); it is
	// recorded in the provenance and nothing runs.
	Skip Str
	// Component names another component that builds the same artifact by
	// an independent path (a cross-compile against a native build): two
	// paths that agree are evidence neither was tampered with (diverse
	// double-compiling). It must be needed, directly or through others.
	Component Str
	// Other is that component's artifact, a file or a directory; a
	// relative path is relative to the other component's build dir.
	Other Str
}

// PerTarget is a pin that may differ by target: one value written as a
// scalar, or a mapping from target name to value (a toolchain module's h1
// differs for every GOARCH).
type PerTarget struct {
	// Str is the single value, when written as a scalar.
	Str
	// ByTarget maps target names to values, in file order, when written as
	// a mapping.
	ByTarget []Var
}

// Set reports whether any value is given.
func (p PerTarget) Set() bool { return p.Value != "" || len(p.ByTarget) > 0 }

// For returns the value for target (matched by name or alias through
// match) and whether there is one.
func (p PerTarget) For(target string, match func(name, target string) bool) (Str, bool) {
	if len(p.ByTarget) == 0 {
		return p.Str, p.Value != ""
	}
	for _, v := range p.ByTarget {
		if match(v.Name.Value, target) {
			return v.Value, true
		}
	}
	return Str{}, false
}

// TargetEnv is the environment a component adds when built for one target.
type TargetEnv struct {
	// Target is a target name or alias, as in `targets:`.
	Target Str
	// Env is added over the component's env for that target.
	Env []Var
}

// Source is where a component's source comes from. Exactly one of URL, Git,
// Dir, SVN, HG or GoMod is set; validation checks the matching pin.
type Source struct {
	Pos Pos
	// URL lists download locations tried in order, each verified by SHA256.
	URL    []Str
	SHA256 Str
	// Filename overrides the cache/mirror file name (default: URL's base).
	Filename Str
	// Strip drops this many leading path components when unpacking.
	Strip    int
	StripPos Pos
	// Git is a repository URL pinned by Commit; Ref is for humans and is
	// checked to point at Commit when given.
	Git        Str
	Commit     Str
	Ref        Str
	Submodules bool
	// Dir is a local tree, copied; its content hash is its identity.
	Dir Str
	// SVN is a Subversion URL at Revision, pinned by Tree: a revision
	// number names no content (a working copy can be edited), so the tree
	// hash of what was exported is the source's identity.
	SVN      Str
	Revision Str
	// HG is a Mercurial URL pinned by Changeset.
	HG        Str
	Changeset Str
	// Tree is "sha256:<hex>", the tree hash (bootstrap/treehash) of the
	// exported tree of an svn source (required) or an hg source
	// (optional); `bootstrap pin` fills it in.
	Tree Str
	// Size is the most a download may take, in bytes (a url source: the
	// file's size, which `bootstrap pin` fills in); 0 means the default
	// for its kind.
	Size    int64
	SizePos Pos
	// UnpackedSize is the most an archive may unpack to, in bytes; 0
	// means the default.
	UnpackedSize    int64
	UnpackedSizePos Pos
	// GoMod is a Go module version, MODULE@VERSION, fetched with the
	// module proxy protocol and pinned by H1, its dirhash.
	GoMod Str
	H1    PerTarget
	// Dest is where the source goes, relative to the component's tree.
	Dest Str
}

// Kind names which kind of source this is: url, git, dir, svn, hg or gomod; "" when
// none (or several) is set, which validation reports.
func (s *Source) Kind() string {
	kinds := s.kinds()
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

func (s *Source) kinds() []string {
	var k []string
	if len(s.URL) > 0 {
		k = append(k, "url")
	}
	if s.Git.Value != "" {
		k = append(k, "git")
	}
	if s.Dir.Value != "" {
		k = append(k, "dir")
	}
	if s.SVN.Value != "" {
		k = append(k, "svn")
	}
	if s.HG.Value != "" {
		k = append(k, "hg")
	}
	if s.GoMod.Value != "" {
		k = append(k, "gomod")
	}
	return k
}

// Patch is one entry of a component's patches: a single patch file or a quilt
// series file.
type Patch struct {
	Pos Pos
	// File is a patch file, relative to the recipe's directory.
	File Str
	// Series is a quilt series file; it may point inside the fetched source
	// with ${{ src }}.
	Series Str
	// Strip is the -pN level (default 1; series lines may override it).
	Strip int
	// Fuzz is how many context lines may be dropped at a hunk's ends.
	Fuzz int
}

// Requirement is a version check on a tool, usually one an earlier component
// produced, done before the component's first own step.
type Requirement struct {
	Pos Pos
	// Tool is the program to ask for its version (a path or a name on PATH).
	Tool Str
	// Version is a semver constraint such as ">= 1.17", or "go-source":
	// derive the minimum Go bootstrap version from this component's Go
	// source tree.
	Version Str
}

// Step is one command of a component.
type Step struct {
	Pos  Pos
	Name Str
	// Run is the script, run with `/bin/sh -e -c` (or bash).
	Run Str
	// Dir is where it runs (default: the component's build dir).
	Dir Str
	// Shell is "sh" (default) or "bash".
	Shell Str
	// Env applies to this step only, over the component's env.
	Env []Var
	// Network lets the step reach the network (it otherwise sees only
	// loopback): fetching is bootstrap's job, so this is an exception a
	// recipe must justify with Reason.
	Network bool
	// Privileged runs the step as real root on the host, outside the
	// confinement every other step gets (for a step that starts a
	// container engine, which needs cgroups, mounts and netfilter); it
	// needs Reason too.
	Privileged bool
	// Reason says why the step needs Network or Privileged; plan,
	// explain and the provenance show it.
	Reason Str
}
