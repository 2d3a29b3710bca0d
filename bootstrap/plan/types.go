// Package plan compiles a loaded recipe into an immutable graph of steps:
// every ${{ }} reference expanded, defaults filled in, needs resolved, cycles
// rejected, and each step given a signature over everything that can change
// its result. The runner executes a Plan and never sees a template.
package plan

import (
	"path/filepath"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// Kind is what a step does.
type Kind string

// The three kinds of step. Every component with a source gets a fetch and a
// patch step before its own run steps.
const (
	KindFetch Kind = "fetch"
	KindPatch Kind = "patch"
	KindRun   Kind = "run"
	// KindVerify compares an artifact with the official one; it is the last
	// step of a component with a verify: block.
	KindVerify Kind = "verify"
)

// Plan is a compiled recipe: steps in a dependency-respecting order.
type Plan struct {
	// Recipe is the recipe the plan came from (for names and positions).
	Recipe *recipe.Recipe
	// WorkDir holds state/, logs/, src/, build/ and install/.
	WorkDir string
	// Root is where run steps see WorkDir (Options.Root): the sandbox's
	// fixed path, or WorkDir itself under --no-sandbox. A run step's
	// Script, Env, Dir and Requires name paths below Root; every other
	// path in the plan is below WorkDir. RealPath and StepPath map
	// between the two.
	Root string
	// Target is the target the plan was compiled for (a GOARCH-style name).
	Target string
	// Steps are in topological order: every step comes after its deps.
	Steps []*Step

	byID map[string]*Step
}

// RealPath maps a path as run steps see it (below Root) to where it is
// on this machine (below WorkDir); any other path is returned cleaned.
func (p *Plan) RealPath(path string) string { return MapPath(path, p.Root, p.WorkDir) }

// StepPath maps a path below WorkDir to where run steps see it (below
// Root); any other path is returned cleaned.
func (p *Plan) StepPath(path string) string { return MapPath(path, p.WorkDir, p.Root) }

// MapPath replaces the leading directory from of path by to, when path is
// from or lies below it; otherwise it returns path cleaned.
func MapPath(path, from, to string) string {
	path = filepath.Clean(path)
	if from == "" || to == "" {
		return path
	}
	from = filepath.Clean(from)
	if path == from {
		return filepath.Clean(to)
	}
	if rest, ok := strings.CutPrefix(path, from+"/"); ok && from != "/" {
		return filepath.Join(to, rest)
	}
	return path
}

// Step looks a step up by its ID ("component:step"); nil when unknown.
func (p *Plan) Step(id string) *Step { return p.byID[id] }

// Step is one unit of work with a checkpoint of its own.
type Step struct {
	// ID is "component:step", the name users type.
	ID        string
	Component string
	Name      string
	Kind      Kind
	// Pos is where the step (or, for fetch and patch, its component) is
	// defined.
	Pos recipe.Pos
	// Deps are the IDs of the steps that must be done first.
	Deps []string

	// SrcDir is the component's source tree, <work>/src/<component>.
	SrcDir string
	// BuildDir is the component's build dir, <work>/build/<component>.
	BuildDir string

	// Sources are set on fetch and patch steps.
	Sources []Source
	// Patches are set on patch steps.
	Patches []Patch

	// Script, Shell, Dir and Env are set on run steps. Env is the complete
	// environment, "NAME=value", sorted by name. Their paths are as the
	// step sees them (below Plan.Root; Plan.RealPath maps them).
	Script string
	Shell  string
	Dir    string
	Env    []string
	// Requires are checked before the step runs (only on the first run
	// step of a component).
	Requires []Requirement
	// Tools are the host programs the step builds with: its component's
	// tools: and the tools of its requires:, as written (a name or a
	// path). See tools.go for how they enter the signature.
	Tools []string

	// Outputs are hashed into the checkpoint after the step succeeds (only
	// on the last step of a component); real paths (below Plan.WorkDir).
	Outputs []string

	// Network and Privileged are the recipe's exceptions to the sandbox
	// a run step runs in (see runner/sandbox), with the recipe's Reason.
	Network    bool
	Privileged bool
	Reason     string
	// Sees are what a run step may read but not write: the source and
	// build trees of every component its component needs (directly or
	// through another), and their declared outputs.
	Sees []string

	// Verify is set on verify steps.
	Verify *Verification

	// Inputs are the named values the signature is computed over; they are
	// stored in the checkpoint so `bootstrap explain` can diff them.
	Inputs map[string]string
	// Signature is the hash of Inputs.
	Signature string
}

// Source is one fully expanded, pinned source of a component.
type Source struct {
	// Kind is url, git, dir, svn, hg or gomod.
	Kind string
	// URLs are the download locations, in order (kind url).
	URLs []string
	// SHA256 is the expected lowercase hex digest (kind url).
	SHA256 string
	// Filename is the name used for the cache and mirror lookup (kind url).
	Filename string
	// Strip drops leading path components when unpacking (kind url, dir).
	Strip int
	// Repo is the repository URL (kinds git, svn, hg).
	Repo string
	// Commit is the pinned revision: git commit, svn revision or hg
	// changeset.
	Commit string
	// Ref is the human name for Commit (git), checked when given.
	Ref string
	// Submodules asks for git submodules to be checked out too.
	Submodules bool
	// Dir is the absolute path of a local tree (kind dir).
	Dir string
	// Module, Version and H1 name a Go module version and its dirhash
	// (kind gomod).
	Module  string
	Version string
	H1      string
	// Tree is the expected tree hash of an svn or hg source's exported
	// tree, "sha256:<hex>" ("" for an hg source that does not give one).
	Tree string
	// Size is the most its download may take, in bytes (0: the default
	// for its kind); UnpackedSize the most its archive may unpack to.
	Size, UnpackedSize int64
	// Dest is where the source goes, relative to the component's tree
	// ("." for the tree itself).
	Dest string
	// Identity names the content exactly: "sha256:<hex>", "git:<commit>",
	// "dir:<tree hash>", "svn:<tree hash>", "hg:<changeset>" (with " <tree hash>" when given),
	// "gomod:<module>@<version> <h1>". It goes into
	// signatures instead of the URL, so a moved mirror does not rebuild.
	Identity string
	// Pos is where the source is written in the recipe.
	Pos recipe.Pos
}

// Patch is one patch-set entry, expanded.
type Patch struct {
	// File is the absolute path of a single patch file; empty for a series.
	File string
	// Series is the absolute path of a quilt series file; empty for a file.
	// It may lie inside the component's source tree.
	Series string
	// Strip is the default -pN level.
	Strip int
	// Fuzz is the number of context lines that may be dropped per hunk end.
	Fuzz int
	// Digest is a hash of the patch content (for a series, of the series
	// file and every patch it lists), or "in-source" when the series lives
	// inside the fetched source and is covered by the source's identity.
	Digest string
	// Pos is where the entry is written in the recipe.
	Pos recipe.Pos
}

// Requirement is an expanded version check.
type Requirement struct {
	// Tool is the program to run (path, or name looked up on the step's PATH).
	Tool string
	// Constraint is a semver constraint, or "go-source".
	Constraint string
	// SrcDir is the component's source tree, where a "go-source" constraint
	// reads the minimum bootstrap version from.
	SrcDir string
	// Pos is where the requirement is written in the recipe.
	Pos recipe.Pos
}

// SandboxNote says how a run step leaves the sandbox, for plan and
// explain: "network: REASON", "privileged: REASON", "no sandbox" when
// the plan was made with --no-sandbox (the step's inputs then lack the
// "sandbox" key), or "" for a confined step and any other kind.
func (s *Step) SandboxNote() string {
	if s.Kind != KindRun {
		return ""
	}
	if _, ok := s.Inputs["sandbox"]; !ok {
		return "no sandbox"
	}
	switch {
	case s.Privileged:
		return "privileged: " + s.Reason
	case s.Network:
		return "network: " + s.Reason
	}
	return ""
}
