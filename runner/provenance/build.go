package provenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/quilt"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/verify"
)

// FileName is the record's name in the work dir.
const FileName = "provenance.json"

// Path is where a work dir's record is.
func Path(workDir string) string { return filepath.Join(workDir, FileName) }

// Failure is how a step of this run failed.
type Failure struct {
	Exit  int
	Error string
	// Verification is the result of a verify step that found differences.
	Verification *verify.Result
}

// Run is what a record is made from.
type Run struct {
	Plan *plan.Plan
	// Parameters are the run's options (target, selection flags…), the
	// externalParameters besides the recipe.
	Parameters map[string]any
	// Internal are options that do not change what is built (work dir,
	// cache).
	Internal          map[string]any
	Started, Finished time.Time
	// InvocationID names this run (it is also in the logs).
	InvocationID string
	// Ran lists the steps this run ran; Failed those that failed.
	Ran    []string
	Failed map[string]Failure
	// Host are the build machine's facts (see HostFacts).
	Host    []ResourceDescriptor
	Version Version
}

// Build assembles the record from the plan, the checkpoints in the work dir
// and what the run reports. Errors name the file that could not be read.
func Build(r Run) (*Statement, error) {
	st := &Statement{Type: StatementType, PredicateType: PredicateType, Subject: []ResourceDescriptor{}}
	recipeSum, err := verify.FileSHA256(r.Plan.Recipe.File)
	if err != nil {
		return nil, fmt.Errorf("recipe: %w", err)
	}
	ext := map[string]any{"recipe": map[string]any{"path": r.Plan.Recipe.File, "sha256": recipeSum, "name": r.Plan.Recipe.Name.Value},
		"target": r.Plan.Target}
	for k, v := range r.Parameters {
		ext[k] = v
	}
	bd := BuildDefinition{BuildType: BuildType, ExternalParameters: ext, InternalParameters: r.Internal}
	store := state.Open(r.Plan.WorkDir)
	ran := map[string]bool{}
	for _, id := range r.Ran {
		ran[id] = true
	}
	var byproducts []ResourceDescriptor
	for _, s := range r.Plan.Steps {
		cp, err := store.Load(s.ID)
		if err != nil {
			cp = nil // a damaged checkpoint is the run's business; the record says "not done"
		}
		deps, err := dependencies(s)
		if err != nil {
			return nil, err
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, deps...)
		subj, err := subjects(s, cp)
		if err != nil {
			return nil, err
		}
		st.Subject = append(st.Subject, subj...)
		byproducts = append(byproducts, stepRecord(r, s, cp, ran[s.ID]))
	}
	bd.ResolvedDependencies = append(bd.ResolvedDependencies, r.Host...)
	st.Predicate = Provenance{BuildDefinition: bd, RunDetails: RunDetails{
		Builder:    Builder{ID: BuilderID, Version: r.Version.builderVersion()},
		Metadata:   Metadata{InvocationID: r.InvocationID, StartedOn: r.Started.UTC(), FinishedOn: r.Finished.UTC()},
		Byproducts: byproducts,
	}}
	return st, nil
}

// dependencies describes a fetch step's sources and a patch step's
// patches, and a verify step's official artifact.
func dependencies(s *plan.Step) ([]ResourceDescriptor, error) {
	var out []ResourceDescriptor
	switch s.Kind {
	case plan.KindFetch:
		for _, src := range s.Sources {
			out = append(out, sourceDescriptor(s.Component, src))
		}
	case plan.KindPatch:
		for _, p := range s.Patches {
			ds, err := patchDescriptors(s.Component, p)
			if err != nil {
				return nil, err
			}
			out = append(out, ds...)
		}
	case plan.KindVerify:
		if ref, ok := s.Verify.Source(); ok {
			d := sourceDescriptor(s.Component, ref)
			d.Name = s.Component + " official artifact"
			d.Annotations["role"] = "official artifact verified against"
			out = append(out, d)
		} else {
			out = append(out, ResourceDescriptor{Name: s.Component + " official artifact", Digest: map[string]string{"sha256": s.Verify.SHA256},
				Annotations: map[string]any{"role": "official artifact verified against"}})
		}
	}
	return out, nil
}

// sourceDescriptor is a source as written in the recipe, with its pin.
func sourceDescriptor(comp string, src plan.Source) ResourceDescriptor {
	d := ResourceDescriptor{Name: comp + " source " + src.Dest, Annotations: map[string]any{"kind": src.Kind}}
	switch src.Kind {
	case "url":
		d.URI, d.Digest = src.URLs[0], map[string]string{"sha256": src.SHA256}
		if len(src.URLs) > 1 {
			d.Annotations["urls"] = src.URLs
		}
	case "git":
		d.URI, d.Digest = "git+"+src.Repo, map[string]string{DigestGit: src.Commit}
		if src.Ref != "" {
			d.Annotations["ref"] = src.Ref
		}
	case "svn", "hg":
		d.URI = src.Kind + "+" + src.Repo
		d.Annotations["revision"] = src.Commit
		if src.Kind == "hg" {
			d.Digest = map[string]string{"hgChangeset": src.Commit}
		}
	case "gomod":
		// A Go module as package URL, pinned by go.sum's h1 (dirHash).
		d.URI, d.Digest = "pkg:golang/"+src.Module+"@"+src.Version, map[string]string{DigestDirHash: src.H1}
	case "dir":
		d.URI = "file://" + src.Dir
		d.Digest = map[string]string{DigestTreeHash: strings.TrimPrefix(strings.TrimPrefix(src.Identity, "dir:"), "sha256:")}
	}
	return d
}

// patchDescriptors lists a patch file, or a series file and every patch it
// names, with their sha256.
func patchDescriptors(comp string, p plan.Patch) ([]ResourceDescriptor, error) {
	one := func(f string) (ResourceDescriptor, error) {
		sum, err := verify.FileSHA256(f)
		if err != nil {
			return ResourceDescriptor{}, fmt.Errorf("patch: %w", err)
		}
		return ResourceDescriptor{Name: comp + " patch " + filepath.Base(f), URI: "file://" + f, Digest: map[string]string{"sha256": sum}}, nil
	}
	if p.File != "" {
		d, err := one(p.File)
		return []ResourceDescriptor{d}, err
	}
	if p.Digest == "in-source" {
		return []ResourceDescriptor{{Name: comp + " patch series " + filepath.Base(p.Series), URI: "file://" + p.Series,
			Annotations: map[string]any{"note": "inside the source tree, covered by the source's digest"}}}, nil
	}
	d, err := one(p.Series)
	if err != nil {
		return nil, err
	}
	out := []ResourceDescriptor{d}
	f, err := os.Open(p.Series)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := quilt.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("series %s: %w", p.Series, err)
	}
	for _, e := range entries {
		d, err := one(filepath.Join(filepath.Dir(p.Series), e.Name))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// subjects are a done step's declared outputs and, for a verify step, the
// verified artifact.
func subjects(s *plan.Step, cp *state.Checkpoint) ([]ResourceDescriptor, error) {
	if cp == nil || cp.Signature != s.Signature {
		return nil, nil // not built by this recipe as it stands
	}
	var out []ResourceDescriptor
	if s.Kind == plan.KindVerify {
		var res verify.Result
		if err := json.Unmarshal(cp.Record, &res); err != nil || !res.Identical {
			return nil, nil
		}
		return []ResourceDescriptor{{Name: s.Verify.File, URI: "file://" + s.Verify.File,
			Digest:      map[string]string{"sha256": res.ArtifactSHA256},
			Annotations: map[string]any{"verified": "bit-identical", "reference": s.Verify.Reference}}}, nil
	}
	for _, o := range s.Outputs {
		d := ResourceDescriptor{Name: o, URI: "file://" + o}
		fi, err := os.Stat(o)
		switch {
		case err != nil:
			continue // the status says it is missing; nothing to vouch for
		case fi.Mode().IsRegular():
			sum, err := verify.FileSHA256(o)
			if err != nil {
				return nil, err
			}
			d.Digest = map[string]string{"sha256": sum}
		default:
			// A tree: the digest bootstrap took when the step finished
			// (paths, types, executable bits, contents, link targets).
			d.Digest = map[string]string{DigestTreeHash: strings.TrimPrefix(cp.Outputs[o], "sha256:")}
		}
		out = append(out, d)
	}
	return out, nil
}

// stepRecord is a step as a byproduct: its signature as digest, and how
// it ended in its annotations.
func stepRecord(r Run, s *plan.Step, cp *state.Checkpoint, ran bool) ResourceDescriptor {
	a := map[string]any{"kind": string(s.Kind)}
	d := ResourceDescriptor{Name: s.ID, Digest: map[string]string{"sha256": s.Signature}, Annotations: a}
	f, failed := r.Failed[s.ID]
	switch {
	case failed:
		a["status"], a["exitStatus"], a["error"] = "failed", f.Exit, f.Error
		if f.Verification != nil {
			a["verification"] = f.Verification
		}
	case cp != nil && cp.Signature == s.Signature:
		a["status"] = "done earlier"
		if ran {
			a["status"] = "ran"
		}
		a["exitStatus"], a["durationSeconds"] = cp.Exit, cp.Seconds
		a["startedOn"], a["finishedOn"] = cp.Started, cp.Finished
		if s.Kind == plan.KindVerify && len(cp.Record) > 0 {
			a["verification"] = json.RawMessage(cp.Record)
		}
	default:
		a["status"] = "not run"
		// A step stopped by a signal, or whose run died, has an attempt
		// file and no checkpoint: it ran, partly.
		if at, _ := state.Open(r.Plan.WorkDir).LoadAttempt(s.ID); at != nil && at.Outcome != state.Failed && !at.Alive() {
			a["status"], a["startedOn"] = "interrupted", at.Started
			if at.Signal != "" {
				a["signal"] = at.Signal
			}
		}
	}
	if s.Kind == plan.KindRun {
		a["sandbox"] = sandboxNote(s)
	}
	if v := r.Plan.Recipe; s.Kind == plan.KindRun {
		for _, c := range v.Components {
			if why := r.Plan.VerifySkipped(c); c.Name.Value == s.Component && why != "" && isLast(r.Plan, s) {
				a["verification"] = "not verified: " + why
			}
		}
	}
	return d
}

// isLast reports whether s is its component's last step.
func isLast(p *plan.Plan, s *plan.Step) bool {
	last := ""
	for _, o := range p.Steps {
		if o.Component == s.Component {
			last = o.ID
		}
	}
	return last == s.ID
}

// Write stores the record at <work>/provenance.json atomically (temp file,
// fsync, rename), so a reader never sees half of it.
func Write(workDir string, st *Statement) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := state.WriteFileAtomic(Path(workDir), append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", Path(workDir), err)
	}
	return nil
}

// Read loads a record; an error names the file and says how to get one.
func Read(workDir string) (*Statement, error) {
	data, err := os.ReadFile(Path(workDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no provenance record at %s: `bootstrap run` writes one when a run ends", Path(workDir))
	}
	if err != nil {
		return nil, err
	}
	var st Statement
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", Path(workDir), err)
	}
	return &st, nil
}

// sandboxNote says how a run step was confined: the sandbox's version
// (from its signature inputs, absent under --no-sandbox) and the recipe's
// exceptions with their reason.
func sandboxNote(s *plan.Step) string {
	v, ok := s.Inputs["sandbox"]
	if !ok {
		return "off (--no-sandbox)"
	}
	switch {
	case s.Privileged:
		v += " privileged: " + s.Reason
	case s.Network:
		v += " network: " + s.Reason
	default:
		v += " net=none"
	}
	return v
}
