package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/execstep"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/sandbox"
	"github.com/porterkit/bootstrap/runner/state"
)

// TailLines is how many lines of a failed step's log are shown.
const TailLines = 40

// StepError is a step that failed, with where to read more.
type StepError struct {
	Step string
	Err  error
	// Exit is the command's exit status, 0 when it did not get that far.
	Exit int
	// Log is the path of the step's full log.
	Log string
	// Tail holds the last TailLines lines of the log.
	Tail []string
	// Emulator is the emulator the step ran under, nil when the kernel
	// ran it: its failure may then be the emulator's.
	Emulator *executor.Emulator
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("step %s failed: %v, log: %s", e.Step, e.Err, e.Log)
	if e.Exit != 0 {
		msg = fmt.Sprintf("step %s failed (exit %d), log: %s", e.Step, e.Exit, e.Log)
	}
	if e.Emulator != nil {
		msg += fmt.Sprintf("; it ran under emulation by %s, which can compute wrong results: the failure may not be the build's (rerun it)", e.Emulator)
	}
	return msg
}

// emulatorOf is the emulator a step of kind k runs under in place, nil
// when none: fetch and patch steps run in bootstrap itself.
func emulatorOf(place executor.Executor, k plan.Kind) *executor.Emulator {
	if em, ok := place.(executor.Emulated); ok && k == plan.KindRun {
		return em.Emulator()
	}
	return nil
}

func (e *StepError) Unwrap() error { return e.Err }

// LogPath is where a step's output goes: <work>/logs/<comp>/<step>.log.
func LogPath(workDir, id string) string {
	comp, step, _ := strings.Cut(id, ":")
	return filepath.Join(workDir, "logs", comp, step+".log")
}

// execute runs one step and checkpoints it on success. The old checkpoint
// is removed first, so a step killed halfway is never taken for done, and
// an attempt file says the step started; it is removed on success and
// otherwise ends as failed or interrupted, so that plan can tell those from
// a step never tried. It returns the step's error.
func (s *scheduler) execute(ctx context.Context, st *plan.Step) error {
	if s.opts.RestoreStep != nil {
		if done, err := s.opts.RestoreStep(ctx, st); err != nil || done {
			return err
		}
	}
	if err := s.store.Remove(st.ID); err != nil {
		return fmt.Errorf("step %s: %w", st.ID, err)
	}
	build := state.NewBuildID()
	logPath := LogPath(s.p.WorkDir, st.ID)
	att := state.NewAttempt(st.ID, build, logPath)
	if err := s.store.SaveAttempt(att); err != nil {
		return err // names the step; the scheduler makes it a *StepError
	}
	if em := emulatorOf(s.opts.Executor, st.Kind); em != nil {
		att.Emulator = em.Short()
	}
	err := s.try(ctx, st, build, logPath)
	if err == nil {
		// A leftover attempt beside the checkpoint of the same build is
		// ignored by readers, so failing to remove it is not the step's
		// failure.
		_ = s.store.RemoveAttempt(st.ID)
		return nil
	}
	s.endAttempt(ctx, att, err)
	return err
}

// endAttempt records how a step that did not succeed ended: interrupted
// when the run was cancelled, failed otherwise. It reports a failure to
// write the attempt through the printer: the step's own error matters more.
func (s *scheduler) endAttempt(ctx context.Context, att *state.Attempt, err error) {
	att.Ended = time.Now().UTC()
	if ctx.Err() != nil {
		att.Outcome, att.Signal = state.Interrupted, interruptedBy(ctx)
	} else {
		att.Outcome, att.Error = state.Failed, err.Error()
		var se *StepError
		if errors.As(err, &se) {
			att.Exit, att.Error = se.Exit, se.Err.Error()
		}
	}
	if werr := s.store.SaveAttempt(att); werr != nil {
		s.opts.Printer.Printf("%s: %v", att.Step, werr)
	}
}

// openLog creates a step's log at logPath (and its dir), capped
// (stepLog), and the writer the step writes to: the log, and with
// --verbose the caller's output too, each line prefixed with the step.
// The caller closes the file.
func (s *scheduler) openLog(st *plan.Step, logPath string) (*os.File, *stepLog, io.Writer, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, nil, nil, err
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create log: %w", err)
	}
	sl := newStepLog(f, logPath, s.opts.LogCap)
	var log io.Writer = sl
	if s.opts.Verbose != nil {
		log = io.MultiWriter(sl, &prefixWriter{w: s.opts.Verbose, prefix: st.ID + " | "})
	}
	return f, sl, log, nil
}

// try runs one step, writing its log, and checkpoints it on success.
func (s *scheduler) try(ctx context.Context, st *plan.Step, build, logPath string) error {
	f, sl, log, err := s.openLog(st, logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	lw := &lineEndWriter{w: log}
	log = lw
	eta := s.statuses[st.ID].ETA()
	s.opts.Printer.StepStart(st.ID, eta)
	start := time.Now()
	fmt.Fprintf(log, "# bootstrap step %s (%s), build %s, started %s\n", st.ID, st.Kind, build, start.UTC().Format(time.RFC3339))
	var record any
	var cpu time.Duration
	switch st.Kind {
	case plan.KindFetch:
		err = s.fetch(ctx, st, log)
	case plan.KindPatch:
		record, err = s.patch(ctx, st, log)
	case plan.KindVerify:
		record, err = s.verify(ctx, st, log)
	default:
		cpu, err = s.script(ctx, st, build, log)
	}
	elapsed := time.Since(start)
	lw.endLine()
	if lerr := sl.Err(); lerr != nil {
		// A full disk is the cause of whatever else went wrong.
		err = lerr
	}
	if err != nil {
		fmt.Fprintf(log, "# failed after %s: %v\n", elapsed.Round(time.Millisecond), err)
		f.Close()
		se := &StepError{Step: st.ID, Err: err, Log: logPath, Tail: tail(logPath, TailLines), Emulator: emulatorOf(s.opts.Executor, st.Kind)}
		var ee *execstep.ExitError
		if errors.As(err, &ee) {
			se.Exit = ee.Code
		}
		return se
	}
	if cpu > 0 {
		fmt.Fprintf(log, "# done after %s, CPU %s\n", elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond))
	} else {
		fmt.Fprintf(log, "# done after %s\n", elapsed.Round(time.Millisecond))
	}
	if lerr := sl.Err(); lerr != nil {
		return &StepError{Step: st.ID, Err: lerr, Log: logPath, Tail: tail(logPath, TailLines)}
	}
	cp := &state.Checkpoint{Step: st.ID, Signature: st.Signature, Inputs: st.Inputs, Build: build,
		Deps: map[string]string{}, Started: start.UTC(), Finished: time.Now().UTC(), Seconds: elapsed.Seconds(),
		CPUSeconds: cpu.Seconds(), Log: logPath}
	for _, d := range st.Deps {
		dcp, err := s.store.Load(d)
		if err != nil || dcp == nil {
			return fmt.Errorf("step %s: checkpoint of upstream %s vanished: %v", st.ID, d, err)
		}
		cp.Deps[d] = dcp.Build
	}
	// Outputs and the source tree are hashed (only what changed since the
	// last snapshot is read) and synced before the checkpoint vouches for
	// them (outputs.go).
	if err := s.snapshotTrees(st, cp); err != nil {
		return &StepError{Step: st.ID, Err: err, Log: logPath}
	}
	if record != nil {
		if cp.Record, err = json.Marshal(record); err != nil {
			return err
		}
	}
	if s.opts.StepEnded != nil {
		// What StepEnded keeps (the outputs' digests, the host facts)
		// belongs to the checkpoint: its failure is the checkpoint's.
		if err := s.opts.StepEnded(ctx, st, cp); err != nil {
			return fmt.Errorf("step %s: save checkpoint: %w", st.ID, err)
		}
	}
	if err := s.store.Save(cp); err != nil {
		return fmt.Errorf("step %s: save checkpoint: %w", st.ID, err)
	}
	s.opts.Printer.StepDone(st.ID, elapsed)
	return nil
}

// fetch makes every source of the component available offline.
func (s *scheduler) fetch(ctx context.Context, st *plan.Step, log io.Writer) error {
	for _, src := range st.Sources {
		f, err := s.opts.Sources.For(src)
		if err != nil {
			return err
		}
		if err := f.Fetch(ctx, src, log); err != nil {
			return err
		}
	}
	return nil
}

// patch unpacks every source into a fresh tree, applies the patches, and
// only then swaps the tree into place: a failure leaves the previous tree
// and no checkpoint.
func (s *scheduler) patch(ctx context.Context, st *plan.Step, log io.Writer) (any, error) {
	parent := filepath.Dir(st.SrcDir)
	fresh := filepath.Join(parent, "."+st.Component+".new")
	old := filepath.Join(parent, "."+st.Component+".old")
	for _, leftover := range []string{fresh, old} { // from a killed run
		if err := os.RemoveAll(leftover); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(fresh, 0o755); err != nil {
		return nil, err
	}
	if err := UnpackSources(ctx, s.opts.Sources, st, fresh, log); err != nil {
		return nil, err
	}
	var records []any
	for _, p := range PatchesIn(st, fresh) {
		if s.opts.ApplyPatch == nil {
			return nil, errors.New("this build of bootstrap cannot apply patches")
		}
		rec, err := s.opts.ApplyPatch(ctx, fresh, p, log)
		if err != nil {
			return nil, err
		}
		records = append(records, rec)
	}
	if _, err := os.Stat(st.SrcDir); err == nil {
		if err := os.Rename(st.SrcDir, old); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(fresh, st.SrcDir); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(old); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "source tree ready: %s\n", st.SrcDir)
	if records == nil {
		return nil, nil
	}
	return records, nil
}

// verify compares the component's artifact with the official one.
func (s *scheduler) verify(ctx context.Context, st *plan.Step, log io.Writer) (any, error) {
	if s.opts.Verify == nil {
		return nil, errors.New("this build of bootstrap cannot verify artifacts")
	}
	return s.opts.Verify(ctx, st.Verify, log)
}

// script runs a run step's command.
func (s *scheduler) script(ctx context.Context, st *plan.Step, build string, log io.Writer) (time.Duration, error) {
	home := filepath.Join(s.p.WorkDir, "home")
	for _, d := range []string{st.BuildDir, home, filepath.Join(s.p.WorkDir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	if err := telemetryOff(home); err != nil {
		return 0, err
	}
	// The step names its dir as it sees it; bootstrap checks it where it
	// is (a --check rebuild's scratch tree when one is mounted there).
	dir := s.p.RealPath(st.Dir)
	if aside, ok := within(dir, s.scratch); ok {
		dir = aside
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return 0, fmt.Errorf("dir %s does not exist (set by dir: at %s)", st.Dir, st.Pos)
	}
	for _, r := range st.Requires {
		if s.opts.CheckRequirement == nil {
			return 0, errors.New("this build of bootstrap cannot check requires:")
		}
		if err := s.opts.CheckRequirement(ctx, r, st.Env, s.opts.Executor); err != nil {
			return 0, fmt.Errorf("requirement at %s: %w", r.Pos, err)
		}
	}
	if _, host := s.opts.Executor.(executor.Host); !host {
		fmt.Fprintf(log, "# runs in: %s\n", s.opts.Executor.Name())
	}
	fmt.Fprintf(log, "# dir: %s\n# %s script:\n%s\n# output:\n", st.Dir, st.Shell, st.Script)
	pgfile := filepath.Join(s.p.WorkDir, "running", strings.ReplaceAll(st.ID, ":", "_"))
	// BOOTSTRAP_BUILD lets a later run recognise this step's processes if
	// this run dies and leaves them behind; it is not part of the
	// signature.
	env := append(append([]string(nil), st.Env...), "BOOTSTRAP_BUILD="+build)
	view, err := s.sandboxView(st)
	if err != nil {
		return 0, err
	}
	// The private /tmp and HOME go with the step, whatever its end, and
	// <work>/sandbox with the last step using it.
	defer func() {
		os.RemoveAll(filepath.Dir(view.Tmp))
		os.Remove(filepath.Dir(filepath.Dir(view.Tmp)))
	}()
	var cpu time.Duration
	err = s.opts.Executor.Run(ctx, execstep.Command{
		Script: st.Script, Shell: st.Shell, Dir: st.Dir, Env: env, Output: log,
		OnLine:  func(line string) { s.opts.Printer.StepLine(st.ID, line) },
		Started: func(pid int) { recordGroup(pgfile, pid, build) },
		Ended:   func() { os.Remove(pgfile) },
		CPU:     func(d time.Duration) { cpu = d },
		Sandbox: view,
	})
	return cpu, err
}

// sandboxView is what a sandboxing executor lets st see: its own trees
// and the shared install prefix writable, what it needs read-only, and a
// fresh /tmp and HOME of its own (<work>/sandbox/<comp>_<step>), which the
// caller removes after the step.
func (s *scheduler) sandboxView(st *plan.Step) (*sandbox.Step, error) {
	dir := filepath.Join(s.p.WorkDir, "sandbox", strings.ReplaceAll(st.ID, ":", "_"))
	if err := os.RemoveAll(dir); err != nil { // a killed run's
		return nil, fmt.Errorf("step %s: private dirs: %w", st.ID, err)
	}
	install := filepath.Join(s.p.WorkDir, "install")
	v := &sandbox.Step{WorkDir: s.p.WorkDir, Root: s.stepRoot(), Own: []string{st.SrcDir, st.BuildDir, install}, Sees: st.Sees,
		Tmp: filepath.Join(dir, "tmp"), Home: filepath.Join(dir, "home"),
		Network: st.Network, Privileged: st.Privileged, Scratch: s.scratch}
	for _, d := range []string{v.Tmp, v.Home, install} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("step %s: %w", st.ID, err)
		}
	}
	if err := os.Chmod(v.Tmp, 0o1777); err != nil {
		return nil, err
	}
	if err := telemetryOff(v.Home); err != nil {
		return nil, err
	}
	for _, kv := range st.Env {
		if k, val, _ := strings.Cut(kv, "="); k == "TMPDIR" {
			v.TmpDir = val
		} else if k == "HOME" {
			v.HomeDir = val
		}
	}
	return v, nil
}

// stepRoot is where the sandbox shows the work dir (sandbox.Step.Root):
// the plan's Root, or "" when steps see the work dir at its own path.
func (s *scheduler) stepRoot() string {
	if s.p.Root == "" || s.p.Root == s.p.WorkDir {
		return ""
	}
	return s.p.Root
}

// tail returns the last n lines of a file.
func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// lineEndWriter remembers whether the last byte written ended a line, so
// that bootstrap's own lines after a command's output start on a line of
// their own.
type lineEndWriter struct {
	w   io.Writer
	mid bool
}

func (l *lineEndWriter) Write(b []byte) (int, error) {
	if len(b) > 0 {
		l.mid = b[len(b)-1] != '\n'
	}
	return l.w.Write(b)
}

func (l *lineEndWriter) endLine() {
	if l.mid {
		l.Write([]byte("\n"))
	}
}

// prefixWriter prefixes each line written to w, for --verbose output of
// parallel steps.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	_, err := p.w.Write(out)
	return len(b), err
}

// telemetryOff turns Go's telemetry off in the steps' home. A go command of
// Go 1.23 or later (the host's, when a recipe builds with it) otherwise
// counts into $HOME/.config/go/telemetry and starts a detached uploader
// that can outlive the step and write into the work dir after its
// checkpoint. An existing mode file is the porter's choice and is kept.
func telemetryOff(home string) error {
	dir := filepath.Join(home, ".config", "go", "telemetry")
	mode := filepath.Join(dir, "mode")
	if _, err := os.Stat(mode); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(mode, []byte("off\n"), 0o644)
}
