// Package verify runs a component's verify: step: it compares the artifact
// the build produced with the official one — a Go module zip fetched by its
// h1, or a file pinned by sha256 — or with the same artifact another
// component built by an independent path (builds.go), and says
// "bit-identical", or lists every member of the archives (or file of the
// trees) that differs (name, size, content hash, mode, time), not just two
// hashes.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

// Modules gets a Go module zip pinned by its h1 (runner/source/gomod's Fetcher).
type Modules interface {
	Zip(ctx context.Context, mod, version, h1 string, log io.Writer) (string, error)
}

// Verifier compares artifacts with their official counterparts.
type Verifier struct {
	// Modules fetches gomod: references.
	Modules Modules
	// CacheDir is where a sha256: reference is looked for, to list what
	// differs (<cache>/sha256/<hex>).
	CacheDir string
}

// What a verification compared with (Result.Against): the two kinds of
// evidence are not the same, and the record keeps them apart.
const (
	// AgainstOfficial is an official artifact (gomod: or sha256:).
	AgainstOfficial = "official"
	// AgainstIndependent is another component's build of the same
	// artifact by another path (diverse double-compiling).
	AgainstIndependent = "independent"
)

// Result is the outcome of one verification; it goes into the step's
// checkpoint and the run's provenance.
type Result struct {
	// Against is AgainstOfficial or AgainstIndependent ("" in a result
	// from a bootstrap that knew only official artifacts).
	Against string `json:"against,omitempty"`
	// Component is the component whose build Other is, for
	// AgainstIndependent.
	Component string `json:"component,omitempty"`
	Other     string `json:"other,omitempty"`
	// Tree is set when the artifacts are directories: the digests are
	// then tree hashes (bootstrap/treehash), not a file's sha256.
	Tree bool `json:"tree,omitempty"`
	// Artifact is the built file and its digest.
	Artifact       string `json:"artifact"`
	ArtifactSHA256 string `json:"artifactSHA256"`
	// Reference names the reference ("gomod:<mod>@<ver> <h1>",
	// "sha256:<hex>" or "component:<name> <path>"); ReferenceSHA256 is
	// its digest.
	Reference       string `json:"reference"`
	ReferenceSHA256 string `json:"referenceSHA256"`
	// Identical is true when the two files are the same bytes.
	Identical bool `json:"identical"`
	// Differences lists the members that differ (empty when identical).
	Differences []Difference `json:"differences,omitempty"`
}

// MismatchError is a verification that found the artifact different from
// the official one; its message lists every differing member.
type MismatchError struct {
	Result *Result
	// Note says why there is no list (no official archive to compare with)
	// or that the archives hold the same members but different bytes.
	Note string
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	r := e.Result
	label := r.label()
	if r.Against == AgainstIndependent {
		fmt.Fprintf(&b, "%s is not bit-identical to %s, built independently by component %s", r.Artifact, r.Other, r.Component)
		if r.ArtifactSHA256 != "" {
			kind := "sha256"
			if r.Tree {
				kind = "tree hash"
			}
			fmt.Fprintf(&b, " (%s %s, %s's %s)", kind, r.ArtifactSHA256, r.Component, r.ReferenceSHA256)
		}
	} else {
		fmt.Fprintf(&b, "%s is not bit-identical to the official %s (sha256 %s, official %s)",
			r.Artifact, r.Reference, r.ArtifactSHA256, r.ReferenceSHA256)
	}
	if e.Note != "" {
		fmt.Fprintf(&b, ": %s", e.Note)
	}
	if n := len(r.Differences); n > 0 {
		fmt.Fprintf(&b, "; %d file(s) differ:", n)
		for _, d := range r.Differences {
			fmt.Fprintf(&b, "\n  %s", d.Describe(label))
		}
	}
	return b.String()
}

// label is how a list of differences names the reference side: "official"
// or the other component's name.
func (r *Result) label() string {
	if r.Against == AgainstIndependent {
		return r.Component
	}
	return "official"
}

// Verify compares v.File with the official artifact and writes an account
// to log. It returns the result, with a *MismatchError when the two differ,
// or another error when either cannot be read or fetched.
func (vr Verifier) Verify(ctx context.Context, v *plan.Verification, log io.Writer) (*Result, error) {
	if v.Independent() {
		return CompareBuilds(v, log)
	}
	res := &Result{Against: AgainstOfficial, Artifact: v.File, Reference: v.Reference}
	var err error
	if res.ArtifactSHA256, err = treehash.FileSHA256(v.File); err != nil {
		return nil, fmt.Errorf("the artifact to verify: %w (set by file: at %s)", err, v.Pos)
	}
	official := ""
	if v.Module != "" {
		if vr.Modules == nil {
			return nil, errors.New("this build of bootstrap cannot fetch gomod: references")
		}
		if official, err = vr.Modules.Zip(ctx, v.Module, v.Version, v.H1, log); err != nil {
			return nil, fmt.Errorf("official artifact: %w", err)
		}
		if res.ReferenceSHA256, err = treehash.FileSHA256(official); err != nil {
			return nil, err
		}
	} else {
		res.ReferenceSHA256 = v.SHA256
		if p := fetch.CachePath(vr.CacheDir, v.SHA256); vr.CacheDir != "" && exists(p) {
			official = p
		}
	}
	fmt.Fprintf(log, "built:    %s\n          sha256 %s\nofficial: %s\n          sha256 %s\n", v.File, res.ArtifactSHA256, v.Reference, res.ReferenceSHA256)
	if res.ArtifactSHA256 == res.ReferenceSHA256 {
		res.Identical = true
		fmt.Fprintln(log, "bit-identical")
		return res, nil
	}
	if official == "" {
		return res, &MismatchError{Result: res, Note: "the official file is not in the cache, so which files differ is unknown (`bootstrap cache add FILE` puts it there)"}
	}
	built, err := Entries(v.File)
	if err != nil {
		return res, &MismatchError{Result: res, Note: fmt.Sprintf("the built file cannot be listed: %v", err)}
	}
	want, err := Entries(official)
	if err != nil {
		return nil, fmt.Errorf("official artifact: %w", err)
	}
	res.Differences = Diff(built, want)
	mm := &MismatchError{Result: res}
	if len(res.Differences) == 0 {
		mm.Note = "every file is the same, so the archives differ in order, compression or metadata"
	}
	return res, mm // the runner writes the error, with the list, to the log
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
