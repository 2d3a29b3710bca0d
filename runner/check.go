package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/execstep"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/state"
)

// `run --check STEP` (as nix-build --check): is a done step's result what
// building it again gives? The rule, in docs/emulation.md ("Checking
// emulated results"): the check rebuilds the step's whole component —
// its sources unpacked and patched afresh, then every run step of it in
// order — into scratch trees under <work>/check/<comp>, which the sandbox
// mounts where steps see the component's src, build and install trees
// (below sandbox.WorkRoot: the bytes a build makes may name its paths,
// Go's do). Everything else is as in a
// run: the trees of what it needs read-only, the same executor. The
// component's real trees and outputs are never written. Its source tree,
// build tree and declared outputs are then compared with the scratch
// ones file by file (type, mode, sha256, symlink target). A component is
// checked whole because the trees as they were before one of its steps
// are not kept: only the patch step's start is reproducible.

// CheckOptions are how `run --check` is asked for.
type CheckOptions struct {
	// Steps name the steps (or components) to check; each selects its
	// component.
	Steps []string
	RunOptions
}

// CheckResult is the verdict on one component, kept beside the checked
// step's checkpoint (<work>/state/<comp>/<step>.check) for the record.
type CheckResult struct {
	Step string `json:"step"`
	// Build is the checkpoint's build the check compared with: a result
	// for another build is stale and ignored.
	Build     string   `json:"build"`
	Identical bool     `json:"identical"`
	Reran     []string `json:"reran"`
	// Differences list each file that differs, "path: what".
	Differences []string  `json:"differences,omitempty"`
	CheckedOn   time.Time `json:"checkedOn"`
	Seconds     float64   `json:"seconds"`
	// Executor is where the rebuild ran ("chroot bookworm ppc64el …"),
	// and Emulator the emulator that ran it, if any.
	Executor string `json:"executor"`
	Emulator string `json:"emulator,omitempty"`
}

// CheckDiffersError is the error of a check that found differences
// (exit status 1).
type CheckDiffersError struct{ Results []*CheckResult }

func (e *CheckDiffersError) Error() string {
	var ids []string
	for _, r := range e.Results {
		ids = append(ids, fmt.Sprintf("%s (%s)", r.Step, files(len(r.Differences))))
	}
	return "check: rebuilt results differ from the checkpointed ones: " + strings.Join(ids, ", ")
}

// Check rebuilds each named step's component into scratch trees and
// compares them with the checkpointed ones; it prints each verdict on
// o.Out, saves it for the provenance record and rewrites the record. It
// returns a *UsageError for a step that is unknown or not done or a
// place without a sandbox, a *FailedError when a rebuild step failed, an
// *InterruptedError when ctx was cancelled, a *CheckDiffersError when
// something differs.
func (s *Session) Check(ctx context.Context, o CheckOptions) ([]*CheckResult, error) {
	p := s.plan
	lock, err := openWorkDir(p, o.Printer)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	store := state.Open(p.WorkDir)
	comps, err := checkTargets(p, store, o.Steps)
	if err != nil {
		return nil, err
	}
	if s.cfg.Executor.Emulating() && s.place == nil {
		if s.place, err = s.openExecutor(ctx, o.Out); err != nil {
			return nil, err
		}
	}
	place := s.place
	if place == nil {
		place = s.cfg.Executor.Host(s.plan.WorkDir)
	}
	if _, ok := place.Inputs()[executor.InputSandbox]; !ok {
		return nil, &UsageError{Err: errors.New("--check needs the sandbox (it mounts scratch trees where the steps see their trees): drop --no-sandbox")}
	}
	cache, err := CacheDir(s.cfg.Cache)
	if err != nil {
		return nil, err
	}
	opts := Options{Printer: o.Printer, Sources: NewSources(cache, s.cfg.Sources, nil), ApplyPatch: applyPatch,
		CheckRequirement: checkRequirement, Executor: place, Verbose: o.Verbose}
	n := 0
	for _, last := range comps {
		n += len(rebuildSteps(p, last))
	}
	o.Printer.Start(len(p.Steps), n, n)
	defer o.Printer.Close()
	var results []*CheckResult
	var differing []*CheckResult
	for _, last := range comps {
		r, err := checkComponent(ctx, p, store, opts, last)
		if err != nil {
			return results, err
		}
		results = append(results, r)
		if r.Identical {
			fmt.Fprintf(o.Out, "check %s: bit-identical (rebuilt %s in %s)\n", r.Step, strings.Join(r.Reran, ", "), time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond))
		} else {
			differing = append(differing, r)
			fmt.Fprintf(o.Out, "check %s: %s (rebuilt %s in %s):\n", r.Step, differ(len(r.Differences)), strings.Join(r.Reran, ", "), time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond))
			for _, d := range r.Differences {
				fmt.Fprintf(o.Out, "  %s\n", d)
			}
		}
	}
	if err := s.recordChecks(ctx, o, cache); err != nil {
		return results, err
	}
	if len(differing) > 0 {
		return results, &CheckDiffersError{Results: differing}
	}
	return results, nil
}

// recordChecks rewrites the signed record, which now carries the checks'
// verdicts on the checked steps.
func (s *Session) recordChecks(ctx context.Context, o CheckOptions, cache string) error {
	k, err := SigningKey(s.plan.WorkDir, cache)
	if err != nil {
		return err
	}
	rec := s.recordHooks(&Options{}, s.place, cache) // only for its host facts

	rec.key = k
	now := time.Now()
	return s.writeRecord(context.WithoutCancel(ctx), o.RunOptions, cache, rec, now, &Summary{}, nil)
}

// checkTargets resolves the named steps to the last step of each
// component, in plan order, and checks that every step of those
// components is done. Errors are *UsageError.
func checkTargets(p *plan.Plan, store *state.Store, names []string) ([]*plan.Step, error) {
	statuses, err := Statuses(p, store)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		ids, err := lookupAll(p, n)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("--check: %w", err)}
		}
		for _, id := range ids {
			want[p.Step(id).Component] = true
		}
	}
	last := map[string]*plan.Step{}
	for _, st := range statuses {
		c := st.Step.Component
		if !want[c] || st.Step.Kind == plan.KindFetch || st.Step.Kind == plan.KindVerify {
			continue
		}
		if st.State != Done {
			return nil, &UsageError{Err: fmt.Errorf("--check: %s is %s: only a done component can be checked; run it first", st.Step.ID, st.State)}
		}
		if st.Step.Privileged {
			return nil, &UsageError{Err: fmt.Errorf("--check: %s is privileged: it sees the whole work dir, so it cannot be rebuilt into scratch trees", st.Step.ID)}
		}
		last[c] = st.Step
	}
	var out []*plan.Step
	for _, st := range p.Steps {
		if l := last[st.Component]; l == st {
			out = append(out, st)
		}
	}
	return out, nil
}

// checkComponent rebuilds last's component into <work>/check/<comp> and
// compares. It returns the verdict, saved beside last's checkpoint, or the
// error of a rebuild step (a *FailedError) or of the comparison.
func checkComponent(ctx context.Context, p *plan.Plan, store *state.Store, opts Options, last *plan.Step) (*CheckResult, error) {
	cp, err := store.Load(last.ID)
	if err != nil || cp == nil {
		return nil, fmt.Errorf("check %s: checkpoint: %v", last.ID, err)
	}
	top := filepath.Join(p.WorkDir, "check", last.Component)
	if err := os.RemoveAll(top); err != nil {
		return nil, fmt.Errorf("check %s: scratch trees: %w", last.ID, err)
	}
	defer func() {
		os.RemoveAll(top)
		os.Remove(filepath.Dir(top)) // <work>/check, when no other is left
	}()
	install := filepath.Join(p.WorkDir, "install")
	scratch := map[string]string{last.BuildDir: filepath.Join(top, "build"), install: filepath.Join(top, "install")}
	if p.Step(last.Component+":patch") != nil {
		scratch[last.SrcDir] = filepath.Join(top, "src")
	}
	for _, d := range scratch {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("check %s: %w", last.ID, err)
		}
	}
	for _, o := range last.Outputs {
		if _, ok := within(o, scratch); !ok {
			return nil, &UsageError{Err: fmt.Errorf("--check %s: output %s is outside the component's trees and %s: it cannot be rebuilt aside", last.ID, o, install)}
		}
	}
	s := &scheduler{p: p, opts: opts, store: store, scratch: scratch}
	res := &CheckResult{Step: last.ID, Build: cp.Build, Executor: opts.Executor.Name()}
	if em := emulatorOf(opts.Executor, plan.KindRun); em != nil {
		res.Emulator = em.Short()
	}
	start := time.Now()
	for _, st := range rebuildSteps(p, last) {
		if err := s.recheck(ctx, st, scratch[last.SrcDir]); err != nil {
			if ctx.Err() != nil {
				return nil, &InterruptedError{Cause: context.Cause(ctx), Steps: []string{st.ID}}
			}
			return nil, &FailedError{Failed: []*StepError{asStepError(st.ID, err)}}
		}
		res.Reran = append(res.Reran, st.ID)
	}
	res.Seconds = time.Since(start).Seconds()
	trees := []string{last.BuildDir}
	if p.Step(last.Component+":patch") != nil {
		trees = append(trees, last.SrcDir)
	}
	for _, o := range last.Outputs {
		if !under(o, last.SrcDir) && !under(o, last.BuildDir) {
			trees = append(trees, o)
		}
	}
	for _, t := range trees {
		aside, _ := within(t, scratch)
		diffs, err := CompareTrees(t, aside)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", last.ID, err)
		}
		res.Differences = append(res.Differences, diffs...)
	}
	res.Identical, res.CheckedOn = len(res.Differences) == 0, time.Now().UTC()
	if err := SaveCheck(p.WorkDir, res); err != nil {
		return nil, err
	}
	return res, nil
}

// rebuildSteps are the steps a check of last's component runs: its patch
// and run steps up to last, in plan order.
func rebuildSteps(p *plan.Plan, last *plan.Step) []*plan.Step {
	var out []*plan.Step
	for _, st := range p.Steps {
		if st.Component != last.Component || st.Kind == plan.KindFetch || st.Kind == plan.KindVerify {
			continue
		}
		out = append(out, st)
		if st == last {
			break
		}
	}
	return out
}

// recheck runs one step of a checked component into the scratch trees:
// a patch step unpacks and patches into the scratch source tree, a run
// step runs in the sandbox with the scratch trees mounted where it sees
// its own. Its log is <work>/logs/check/<comp>/<step>.log. It returns the
// step's error.
func (s *scheduler) recheck(ctx context.Context, st *plan.Step, src string) error {
	logPath := filepath.Join(s.p.WorkDir, "logs", "check", strings.ReplaceAll(st.ID, ":", string(filepath.Separator))+".log")
	f, _, log, err := s.openLog(st, logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	s.opts.Printer.StepStart(st.ID+" (check)", 0)
	start := time.Now()
	fmt.Fprintf(log, "# bootstrap --check: %s (%s) into scratch trees, started %s\n", st.ID, st.Kind, start.UTC().Format(time.RFC3339))
	switch st.Kind {
	case plan.KindPatch:
		if err = UnpackSources(ctx, s.opts.Sources, st, src, log); err != nil {
			break
		}
		for _, pt := range PatchesIn(st, src) {
			if _, err = s.opts.ApplyPatch(ctx, src, pt, log); err != nil {
				break
			}
		}
	default:
		_, err = s.script(ctx, st, state.NewBuildID(), log)
	}
	if err != nil {
		fmt.Fprintf(log, "# failed after %s: %v\n", time.Since(start).Round(time.Millisecond), err)
		return &StepError{Step: st.ID, Err: err, Log: logPath, Tail: tail(logPath, TailLines), Exit: exitOf(err),
			Emulator: emulatorOf(s.opts.Executor, st.Kind)}
	}
	fmt.Fprintf(log, "# done after %s\n", time.Since(start).Round(time.Millisecond))
	s.opts.Printer.StepDone(st.ID+" (check)", time.Since(start))
	return nil
}

// exitOf is a command's exit status in err, 0 when it has none.
func exitOf(err error) int {
	var ee *execstep.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 0
}

// asStepError makes err a *StepError of id.
func asStepError(id string, err error) *StepError {
	var se *StepError
	if errors.As(err, &se) {
		return se
	}
	return &StepError{Step: id, Err: err}
}

// within maps path to its scratch counterpart when it lies in one of the
// scratch-mounted trees.
func within(path string, scratch map[string]string) (string, bool) {
	best := ""
	for real := range scratch {
		if under(path, real) && len(real) > len(best) {
			best = real
		}
	}
	if best == "" {
		return "", false
	}
	rel, _ := filepath.Rel(best, path)
	return filepath.Join(scratch[best], rel), true
}

// under says whether path is dir or inside it.
func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// CompareTrees compares two files or trees entry by entry — type, mode,
// a regular file's sha256, a symlink's target — and lists every
// difference as "<path in a>: what", sorted; nil when they are
// bit-identical. The error names the tree that could not be read.
func CompareTrees(a, b string) ([]string, error) {
	sa, err := snapOrNone(a)
	if err != nil {
		return nil, err
	}
	sb, err := snapOrNone(b)
	if err != nil {
		return nil, err
	}
	ea, eb := entries(sa), entries(sb)
	var out []string
	name := func(rel string) string {
		if rel == "." {
			return a
		}
		return filepath.Join(a, filepath.FromSlash(rel))
	}
	for rel, x := range ea {
		y, ok := eb[rel]
		switch {
		case !ok:
			out = append(out, name(rel)+": missing from the rebuild")
		case x.Type != y.Type:
			out = append(out, fmt.Sprintf("%s: type %s, rebuilt %s", name(rel), x.Type, y.Type))
		case x.Stat.Mode != y.Stat.Mode:
			out = append(out, fmt.Sprintf("%s: mode %o, rebuilt %o", name(rel), x.Stat.Mode, y.Stat.Mode))
		case x.Type == "f" && x.Digest != y.Digest:
			out = append(out, fmt.Sprintf("%s: sha256 %s, rebuilt %s", name(rel), short(x.Digest), short(y.Digest)))
		case x.Type == "l" && x.Digest != y.Digest:
			out = append(out, fmt.Sprintf("%s: symlink to %s, rebuilt to %s", name(rel), x.Digest, y.Digest))
		}
	}
	for rel := range eb {
		if _, ok := ea[rel]; !ok {
			out = append(out, name(rel)+": only in the rebuild")
		}
	}
	sort.Strings(out)
	return out, nil
}

// snapOrNone snapshots path; nil when it does not exist.
func snapOrNone(path string) (*treehash.Snapshot, error) {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	s, err := treehash.Snap(path, nil)
	if err != nil {
		return nil, fmt.Errorf("compare %s: %w", path, err)
	}
	return s, nil
}

func entries(s *treehash.Snapshot) map[string]treehash.Entry {
	m := map[string]treehash.Entry{}
	if s != nil {
		for _, e := range s.Entries {
			m[e.Path] = e
		}
	}
	return m
}

// SaveCheck writes a check's verdict beside its step's checkpoint.
// Errors name the file.
func SaveCheck(workDir string, r *CheckResult) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	p := provenance.CheckPath(workDir, r.Step)
	if err := state.WriteFileAtomic(p, append(data, '\n')); err != nil {
		return fmt.Errorf("save check of %s: %w", r.Step, err)
	}
	return nil
}

// differ says "1 file differs" or "n files differ".
func differ(n int) string {
	if n == 1 {
		return "1 file differs"
	}
	return fmt.Sprintf("%d files differ", n)
}

// files says "1 file" or "n files".
func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}
