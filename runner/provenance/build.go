package provenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/quilt"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/verify"
)

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
	// HostFacts is the ID of this run's host facts (SaveFacts): those of
	// the steps that failed in it. A step that succeeded names its run's
	// facts in its StepEnd, so one done in an earlier run keeps that run's.
	HostFacts string
	Version   Version
}

// Build assembles the record from the plan, the checkpoints in the work dir
// and what the run reports. Errors name the file that could not be read.
func Build(r Run) (*Statement, error) {
	st := &Statement{Type: StatementType, PredicateType: PredicateType, Subject: []ResourceDescriptor{}}
	recipeSum, err := treehash.FileSHA256(r.Plan.Recipe.File)
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
	var factSets []string // in order of first use
	for _, s := range r.Plan.Steps {
		cp, err := store.Load(s.ID)
		if err != nil || (cp != nil && cp.Signature != s.Signature) {
			cp = nil // a damaged or stale checkpoint: the record says "not done"
		}
		var end *StepEnd
		if cp != nil {
			end = LoadStepEnd(r.Plan.WorkDir, s.ID, cp.Build)
		}
		deps, err := dependencies(r.Plan, s, cp)
		if err != nil {
			return nil, err
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, deps...)
		st.Subject = append(st.Subject, subjects(r.Plan, s, cp, end)...)
		b := stepRecord(r, s, cp, ran[s.ID])
		if id := stepFacts(r, s, cp, end); id != "" {
			b.Annotations["hostFacts"] = shortID(id)
			if !slices.Contains(factSets, id) {
				factSets = append(factSets, id)
			}
		} else if cp != nil && cp.Restored != nil {
			b.Annotations["hostFacts"] = "built elsewhere: the cache record it was restored from names its builder"
		} else if cp != nil {
			b.Annotations["hostFacts"] = "not recorded (done by a bootstrap that did not keep them)"
		}
		byproducts = append(byproducts, b)
	}
	for _, id := range factSets {
		facts, err := LoadFacts(r.Plan.WorkDir, id)
		if err != nil {
			return nil, err
		}
		for _, f := range facts {
			if f.Annotations == nil {
				f.Annotations = map[string]any{}
			}
			f.Annotations["hostFacts"] = shortID(id)
			bd.ResolvedDependencies = append(bd.ResolvedDependencies, f)
		}
	}
	st.Predicate = Provenance{BuildDefinition: bd, RunDetails: RunDetails{
		Builder:    Builder{ID: BuilderID, Version: r.Version.builderVersion()},
		Metadata:   Metadata{InvocationID: r.InvocationID, StartedOn: r.Started.UTC(), FinishedOn: r.Finished.UTC()},
		Byproducts: byproducts,
	}}
	return st, nil
}

// dependencies describes a fetch step's sources and a patch step's
// patches, and a verify step's reference: the official artifact, or the
// other component's build (with its digest from the step's checkpoint cp).
func dependencies(p *plan.Plan, s *plan.Step, cp *state.Checkpoint) ([]ResourceDescriptor, error) {
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
		if s.Verify.Independent() {
			out = append(out, independentBuild(p, s, cp))
		} else if ref, ok := s.Verify.Source(); ok {
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

// independentBuild describes the other component's build a verify step
// compared with: its path, its digest as the comparison found it (none
// before the step ran), and its steps' signatures, each of which is a
// step of this record with its own provenance.
func independentBuild(p *plan.Plan, s *plan.Step, cp *state.Checkpoint) ResourceDescriptor {
	v := s.Verify
	steps := map[string]string{}
	for _, o := range p.Steps {
		if o.Component == v.Component {
			steps[o.ID] = o.Signature
		}
	}
	d := ResourceDescriptor{Name: s.Component + " independent build by " + v.Component, URI: "file://" + v.Other,
		Annotations: map[string]any{"role": "independent build verified against", "component": v.Component, "steps": steps}}
	var res verify.Result
	if cp != nil && json.Unmarshal(cp.Record, &res) == nil && res.ReferenceSHA256 != "" {
		d.Digest = map[string]string{"sha256": res.ReferenceSHA256}
		if res.Tree {
			d.Digest = map[string]string{DigestTreeHash: res.ReferenceSHA256}
		}
	}
	return d
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
		sum, err := treehash.FileSHA256(f)
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
// verified artifact, with their digests as taken when the step ended
// (end), each checked again against the disk now: a subject that changed
// since carries a "mismatch" annotation, which fails `record --verify`.
// Without an end (a checkpoint from a bootstrap that did not keep one), a
// tree hash from the checkpoint stands in, also taken at the step's end.
// A subject is named by its path as steps see it (below the plan's Root,
// the sandbox's fixed path: the same on every machine) and located by
// its file:// URI where it is on this one.
func subjects(p *plan.Plan, s *plan.Step, cp *state.Checkpoint, end *StepEnd) []ResourceDescriptor {
	if cp == nil {
		return nil // not built by this recipe as it stands
	}
	var out []ResourceDescriptor
	if s.Kind == plan.KindVerify {
		var res verify.Result
		if err := json.Unmarshal(cp.Record, &res); err != nil || !res.Identical {
			return nil
		}
		d := ResourceDescriptor{Name: p.StepPath(s.Verify.File), URI: "file://" + s.Verify.File,
			Digest:      map[string]string{"sha256": res.ArtifactSHA256},
			Annotations: map[string]any{"verified": "bit-identical", "reference": s.Verify.Reference, "against": verify.AgainstOfficial}}
		if res.Tree {
			d.Digest = map[string]string{DigestTreeHash: res.ArtifactSHA256}
		}
		if s.Verify.Independent() {
			// The weight of this evidence is two paths agreeing, not a
			// publisher's word: say which, and what the other path was.
			d.Annotations["against"] = verify.AgainstIndependent
			d.Annotations["verifiedAgainst"] = "component " + s.Verify.Component + "'s independent build"
			d.Annotations["component"] = s.Verify.Component
			d.Annotations["other"] = map[string]any{"uri": "file://" + s.Verify.Other, "digest": res.ReferenceSHA256}
		} else {
			d.Annotations["verifiedAgainst"] = "the official release"
		}
		return []ResourceDescriptor{markMismatch(d)}
	}
	for _, o := range s.Outputs {
		var dg map[string]string
		if end != nil {
			dg = end.Outputs[o]
		}
		if sum := checkpointTreeHash(cp, o); dg == nil && sum != "" {
			dg = map[string]string{DigestTreeHash: strings.TrimPrefix(sum, "sha256:")}
		}
		if dg == nil {
			continue
		}
		out = append(out, markMismatch(ResourceDescriptor{Name: p.StepPath(o), URI: "file://" + o, Digest: dg}))
	}
	return out
}

// markMismatch checks a subject against the disk and, when it differs,
// says so in its "mismatch" annotation.
func markMismatch(d ResourceDescriptor) ResourceDescriptor {
	if why := CheckSubject(d); why != "" {
		if d.Annotations == nil {
			d.Annotations = map[string]any{}
		}
		d.Annotations["mismatch"] = why + " when the record was written"
	}
	return d
}

// CheckSubject compares a subject's digests with its file or tree (its
// file:// URI) as it is now, and returns what differs, "" when nothing
// does or the subject names no local path.
func CheckSubject(d ResourceDescriptor) string {
	path, ok := strings.CutPrefix(d.URI, "file://")
	if !ok {
		return ""
	}
	algs := make([]string, 0, len(d.Digest))
	for alg := range d.Digest {
		algs = append(algs, alg)
	}
	sort.Strings(algs)
	for _, alg := range algs {
		now, known, err := digestNow(path, alg)
		switch {
		case !known:
			continue
		case errors.Is(err, fs.ErrNotExist):
			return "missing on disk"
		case err != nil:
			return fmt.Sprintf("cannot be read: %v", err)
		case now != d.Digest[alg]:
			return fmt.Sprintf("%s on disk is %s, not %s", alg, now, d.Digest[alg])
		}
	}
	return ""
}

// stepFacts is the ID of the host facts of the run that ran a step: the
// one its StepEnd names, or this run's for a step that failed in it.
func stepFacts(r Run, s *plan.Step, cp *state.Checkpoint, end *StepEnd) string {
	if end != nil {
		return end.HostFacts
	}
	if _, failed := r.Failed[s.ID]; failed && cp == nil {
		return r.HostFacts
	}
	return ""
}

// shortID is a facts ID as the record shows it.
func shortID(id string) string { return id[:min(16, len(id))] }

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
	case cp != nil:
		a["status"] = "done earlier"
		if ran {
			a["status"] = "ran"
		}
		if r := cp.Restored; r != nil {
			// Built elsewhere: the shared cache's signed record vouches
			// for it (runner/buildcache), and says by whom.
			a["status"], a["restoredFrom"], a["restoredSigner"], a["restoredKey"] = "restored", r.From, r.Signer, r.Key
		}
		a["exitStatus"], a["durationSeconds"] = cp.Exit, cp.Seconds
		a["startedOn"], a["finishedOn"] = cp.Started, cp.Finished
		if s.Kind == plan.KindVerify && len(cp.Record) > 0 {
			a["verification"] = json.RawMessage(cp.Record)
		}
		if c := loadCheck(r.Plan.WorkDir, s.ID, cp.Build); c != nil {
			a["check"] = c
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

// CheckPath is where `run --check` keeps its last verdict on a step,
// beside the step's checkpoint (runner.SaveCheck writes it).
func CheckPath(workDir, id string) string {
	comp, step, _ := strings.Cut(id, ":")
	return filepath.Join(workDir, "state", comp, step+".check")
}

// loadCheck is the last --check verdict on a step's checkpoint of build,
// nil when there is none or it is of another build (the step ran since).
func loadCheck(workDir, id, build string) json.RawMessage {
	data, err := os.ReadFile(CheckPath(workDir, id))
	if err != nil {
		return nil
	}
	var c struct {
		Build string `json:"build"`
	}
	if json.Unmarshal(data, &c) != nil || c.Build != build {
		return nil
	}
	return json.RawMessage(data)
}
