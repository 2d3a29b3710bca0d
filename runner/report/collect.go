// Package report renders `bootstrap report`: one self-contained HTML page
// per work dir (inline CSS and SVG, no script, no font, no network) with a
// timeline of the last run, the step table, the provenance summary and,
// for other work dirs given with --against, the same steps side by side
// with CPU ratios. The page opens from a board's file system in any
// browser, with no server.
//
// The SVG is drawn here (timeline.go), not by a charting library: a
// timeline is a few dozen rectangles on a time axis, and the libraries
// that draw Gantt-like charts for Go either need JavaScript in the page
// (go-echarts) or draw raster images.
package report

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/state"
)

// Step is one step of a work dir as the report shows it.
type Step struct {
	ID, Component, Kind string
	// State is the step's state (runner.State); for a work dir given
	// with --against, only done, failed, interrupted or pending.
	State runner.State
	// Why is the step's reasons, joined, when it is not done.
	Why string
	// Ran says the step ran in the last run (it is a bar on the timeline
	// rather than a "not run this time" mark); Outcome is how the last
	// run left it: "ran", "failed", "interrupted", "done earlier" or
	// "not run".
	Ran     bool
	Outcome string
	// Start and End bound its last run (zero when it never ran).
	Start, End time.Time
	// Wall and CPU are its last success's times (0 when unknown; CPU is
	// 0 for bootstrap's own steps, fetch and patch).
	Wall, CPU time.Duration
	// Exit is the exit status of its last run, "" when none.
	Exit string
	// Log is the step's log file; LogHref the link to it from the page.
	Log, LogHref string
	// Lane is the timeline row of a step that ran: steps in different
	// lanes ran at the same time.
	Lane int
}

// Run is one work dir: its steps in plan order and its last run.
type Run struct {
	// Name labels the work dir in the page (its path as given).
	Name    string
	WorkDir string
	Steps   []Step
	// Start and End bound the last run: the provenance record's times,
	// else those of the steps that ran.
	Start, End time.Time
	// Lanes is how many timeline rows the steps that ran need.
	Lanes int
	// Record is the provenance summary, nil when there is no record.
	Record *Record
}

// Record is the provenance summary of a run.
type Record struct {
	Path string
	// Signature says whether the record is signed and verifies with
	// bootstrap's key; SignatureOK is true when it does.
	Signature   string
	SignatureOK bool
	Problems    []string
	Builder     string
	Target      string
	Sources     []Resource
	Subjects    []Resource
	// Packages are the Debian packages of the host or the root file
	// system the record lists among its dependencies: hundreds, so the
	// page folds them away.
	Packages []Resource
}

// Resource is a source or a subject: a name, where from, and a digest.
type Resource struct {
	Name, URI, Digest string
}

// FromStatuses is the Run of a session's work dir: the statuses
// (runner.Statuses) and its provenance record, whose signature is checked
// with bootstrap's own public key (runner.VerifyRecord: that also
// re-hashes every subject). outDir is the directory of the page, for the
// log links. A record that cannot be read is reported in the page, not
// returned.
func FromStatuses(ctx context.Context, name, workDir, outDir string, sts []*runner.Status) *Run {
	r := &Run{Name: name, WorkDir: workDir}
	st, _ := provenance.Read(workDir)
	outcome := outcomes(st)
	for _, s := range sts {
		step := newStep(s.Step, s.State, s.Checkpoint, s.Attempt, outcome, outDir)
		if s.State != runner.Done {
			step.Why = strings.Join(s.Reasons, "; ")
		}
		r.Steps = append(r.Steps, step)
	}
	r.Record = record(ctx, workDir)
	r.finish(st)
	return r
}

// FromWorkDir is the Run of another work dir of the same plan (--against):
// each step's checkpoint and last attempt, read by step ID, and no record
// check. It returns a checkpoint that cannot be read.
func FromWorkDir(name, workDir, outDir string, p *plan.Plan) (*Run, error) {
	r := &Run{Name: name, WorkDir: workDir}
	store := state.Open(workDir)
	rec, _ := provenance.Read(workDir)
	if rec != nil { // the target its record names labels the column
		if t, ok := rec.Predicate.BuildDefinition.ExternalParameters["target"]; ok {
			r.Name = fmt.Sprint(t) + " · " + name
		}
	}
	outcome := outcomes(rec)
	for _, s := range p.Steps {
		cp, err := store.Load(s.ID)
		if err != nil {
			return nil, err
		}
		at, err := store.LoadAttempt(s.ID)
		if err != nil {
			return nil, err
		}
		st := runner.Pending
		switch {
		case cp != nil:
			st = runner.Done
		case at != nil && at.Outcome == state.Failed:
			st = runner.Failed
		case at != nil:
			st = runner.Interrupted
		}
		r.Steps = append(r.Steps, newStep(s, st, cp, at, outcome, outDir))
	}
	r.finish(rec)
	return r, nil
}

// outcomes maps each step ID to its status in the record's byproducts
// ("ran", "done earlier", "failed", "interrupted", "not run"); nil
// without a record.
func outcomes(st *provenance.Statement) map[string]string {
	if st == nil {
		return nil
	}
	m := map[string]string{}
	for _, b := range st.Predicate.RunDetails.Byproducts {
		if s, ok := b.Annotations["status"].(string); ok {
			m[b.Name] = s
		}
	}
	return m
}

// newStep is a step from its checkpoint and last attempt. Without a
// record (outcome nil), a step with a checkpoint counts as run.
func newStep(s *plan.Step, st runner.State, cp *state.Checkpoint, at *state.Attempt, outcome map[string]string, outDir string) Step {
	step := Step{ID: s.ID, Component: s.Component, Kind: string(s.Kind), State: st}
	if cp != nil {
		step.Start, step.End, step.Wall, step.CPU = cp.Started, cp.Finished, time.Duration(cp.Seconds*float64(time.Second)), cp.CPU()
		step.Exit, step.Log, step.Outcome = strconv.Itoa(cp.Exit), cp.Log, "ran"
	}
	if at != nil && (cp == nil || at.Started.After(cp.Started)) {
		step.Start, step.End, step.Log, step.Outcome = at.Started, at.Ended, at.Log, string(at.Outcome)
		step.Exit = ""
		if at.Outcome == state.Failed && at.Exit != 0 {
			step.Exit = strconv.Itoa(at.Exit)
		}
	}
	if o, ok := outcome[s.ID]; ok {
		step.Outcome = o
	} else if outcome != nil && step.Outcome == "ran" {
		step.Outcome = "done earlier" // not in the record: from an older run
	}
	if step.Outcome == "" {
		step.Outcome = "not run"
	}
	step.Ran = !step.Start.IsZero() && (step.Outcome == "ran" || step.Outcome == "failed" || step.Outcome == "interrupted")
	step.LogHref = href(outDir, step.Log)
	return step
}

// finish sets the run's time window and the steps' lanes.
func (r *Run) finish(st *provenance.Statement) {
	if st != nil {
		r.Start, r.End = st.Predicate.RunDetails.Metadata.StartedOn, st.Predicate.RunDetails.Metadata.FinishedOn
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		if !s.Ran {
			continue
		}
		if s.End.IsZero() || s.End.Before(s.Start) {
			s.End = s.Start // killed mid-step: no end on record
		}
		if st == nil || r.Start.IsZero() {
			if r.Start.IsZero() || s.Start.Before(r.Start) {
				r.Start = s.Start
			}
			if s.End.After(r.End) {
				r.End = s.End
			}
		}
	}
	r.Lanes = assignLanes(r.Steps)
}

// assignLanes puts each step that ran in the first lane free at its start
// (steps ordered by start), so that lanes show what ran at the same time;
// it returns the number of lanes.
func assignLanes(steps []Step) int {
	var order []int
	for i := range steps {
		if steps[i].Ran {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return steps[order[a]].Start.Before(steps[order[b]].Start) })
	var ends []time.Time
	for _, i := range order {
		lane := -1
		for l, end := range ends {
			if !steps[i].Start.Before(end) {
				lane = l
				break
			}
		}
		if lane < 0 {
			lane = len(ends)
			ends = append(ends, time.Time{})
		}
		ends[lane] = steps[i].End
		steps[i].Lane = lane
	}
	return len(ends)
}

// record is the provenance summary of a work dir, nil when it has no
// record; a record that does not verify says why in Signature.
func record(ctx context.Context, workDir string) *Record {
	path := provenance.Path(workDir)
	f, err := provenance.ReadFile(path)
	if err != nil {
		return nil
	}
	rec := &Record{Path: path}
	v, err := runner.VerifyRecord(ctx, path, "")
	switch {
	case err != nil:
		rec.Signature = "not checked: " + err.Error()
	case v.OK():
		rec.Signature, rec.SignatureOK = "signed, verifies with bootstrap's key "+v.KeyID[:16]+"; "+strconv.Itoa(v.Subjects)+" subject(s) match the disk", true
	default:
		rec.Signature, rec.Problems = "DOES NOT VERIFY with bootstrap's key "+v.KeyID[:16], v.Problems
	}
	if f.StatementErr != nil {
		return rec
	}
	st := f.Statement
	bd, rd := st.Predicate.BuildDefinition, st.Predicate.RunDetails
	if t, ok := bd.ExternalParameters["target"]; ok {
		rec.Target = fmt.Sprint(t)
	}
	ver := rd.Builder.Version
	rec.Builder = strings.TrimSpace("bootstrap " + ver["github.com/porterkit/bootstrap"] + " " + ver["vcs.revision"] + " " + ver["go"])
	for _, d := range bd.ResolvedDependencies {
		res := Resource{Name: d.Name, URI: d.URI, Digest: digest(d.Digest)}
		if strings.Contains(d.Name, " package ") {
			rec.Packages = append(rec.Packages, res)
			continue
		}
		rec.Sources = append(rec.Sources, res)
	}
	for _, d := range st.Subject {
		rec.Subjects = append(rec.Subjects, Resource{Name: d.Name, Digest: digest(d.Digest)})
	}
	return rec
}

// href is the link from the page in outDir to a file: relative, so that
// the page and the work dir can move together; "" for no file.
func href(outDir, path string) string {
	if path == "" {
		return ""
	}
	if rel, err := filepath.Rel(outDir, path); err == nil && outDir != "" {
		path = rel
	}
	u := url.URL{Path: filepath.ToSlash(path)}
	if filepath.IsAbs(path) {
		u.Scheme = "file"
	}
	return u.String()
}

// digest is a digest set as "alg:hex", algorithms sorted, hex cut to 16.
func digest(d map[string]string) string {
	var out []string
	for alg, hex := range d {
		out = append(out, alg+":"+hex[:min(16, len(hex))])
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
