package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/progress"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// madeByBootstrap reports whether name is an entry of a work dir that
// bootstrap itself creates (checkpoints, logs, trees, the steps' HOME and
// TMPDIR and their per-step sandbox copies, the emulated root file system's layer, the records of running
// steps and of the last run) or install/, the prefix every recipe of ours
// installs into. `clean` without a step removes these and the entries the
// recipe's steps name under ${{ work }}, and nothing else.
func madeByBootstrap(name string) bool {
	switch name {
	case "state", "logs", "src", "build", "install", "rootfs", "home", "tmp", "sandbox", "running", "provenance.json":
		return true
	}
	return false
}

// keptAlways reports whether clean must keep name whoever made it, and
// why when the porter should hear it: the lock it holds, the marker that
// makes the directory a work dir, and `patch edit` work trees, which may
// hold commits not saved as patches yet (the porter's work).
func keptAlways(name string) (keep bool, why string) {
	switch name {
	case "lock", workdir.MarkerName:
		return true, ""
	case "edit":
		return true, "patch work trees (remove it by hand once saved)"
	}
	// A marker write that was killed midway; workdir.Ensure ignores it.
	return strings.HasPrefix(name, workdir.MarkerName+".tmp-"), ""
}

// Clean forgets what a run left in p's work dir, under its lock so that it
// cannot pull the floor from under a running build. With step "", it
// removes every entry bootstrap or the recipe's steps create and lists what
// it kept; with a step, the checkpoints and logs of that step and every
// step after it, the source tree when the step is a fetch or patch step,
// and the build dir when it is a component's first own step. It writes one
// line per thing done to out.
//
// It refuses (a *workdir.Error, exit 2) a directory without the work dir
// marker, including one made by an earlier bootstrap that `run` has not
// adopted yet: no command removes what bootstrap did not create. It
// returns a *state.LockedError when a run holds the lock and a *UsageError
// for an unknown step.
func Clean(p *plan.Plan, step string, out io.Writer) error {
	if _, err := workdir.Check(p.WorkDir, "remove anything in it"); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(out, "nothing to clean: %s does not exist\n", p.WorkDir)
			return nil
		}
		return err
	}
	var ids []string
	if step != "" {
		var err error
		if ids, err = StepsFrom(p, step); err != nil {
			return &UsageError{Err: err}
		}
	}
	lock, err := state.Acquire(p.WorkDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	if step == "" {
		return cleanAll(p, out)
	}
	return cleanFrom(p, ids, out)
}

// cleanAll removes the entries of the work dir that bootstrap and the
// recipe's steps create and names those it kept.
func cleanAll(p *plan.Plan, out io.Writer) error {
	entries, err := os.ReadDir(p.WorkDir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", p.WorkDir, err)
	}
	owned := recipeEntries(p)
	var removed []string
	for _, e := range entries {
		name, path := e.Name(), filepath.Join(p.WorkDir, e.Name())
		if keep, why := keptAlways(name); keep {
			if why != "" {
				fmt.Fprintf(out, "kept %s: %s\n", path, why)
			}
			continue
		}
		if !owned[name] && !madeByBootstrap(name) {
			fmt.Fprintf(out, "kept %s: bootstrap did not create it\n", path)
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("clean %s: %w", p.WorkDir, err)
		}
		removed = append(removed, name)
	}
	if len(removed) == 0 {
		fmt.Fprintf(out, "nothing to clean in %s\n", p.WorkDir)
		return nil
	}
	fmt.Fprintf(out, "removed %s from %s\n", strings.Join(removed, ", "), p.WorkDir)
	return nil
}

// recipeEntries are the top-level entries of the work dir that p's steps
// name in their commands, directories, environment and outputs
// (${{ work }}/out and the like): the recipe made them.
func recipeEntries(p *plan.Plan) map[string]bool {
	names := map[string]bool{}
	prefix := p.WorkDir + string(filepath.Separator)
	for _, s := range p.Steps {
		texts := append(append([]string{s.Script, s.Dir}, s.Env...), s.Outputs...)
		for _, t := range texts {
			for rest := t; ; {
				i := strings.Index(rest, prefix)
				if i < 0 {
					break
				}
				rest = rest[i+len(prefix):]
				end := strings.IndexAny(rest, "/'\"` \t\n:;$)")
				if end < 0 {
					end = len(rest)
				}
				if n := rest[:end]; n != "" && n != "." && n != ".." {
					names[n] = true
				}
			}
		}
	}
	return names
}

// cleanFrom forgets the steps ids (a step and every step after it).
func cleanFrom(p *plan.Plan, ids []string, out io.Writer) error {
	store := state.Open(p.WorkDir)
	firstRun := map[string]bool{}
	for _, s := range p.Steps {
		if s.Kind == plan.KindRun && !firstRun[s.Component] {
			firstRun[s.Component] = true
			firstRun[s.ID] = true
		}
	}
	for _, id := range ids {
		s := p.Step(id)
		if err := store.Remove(id); err != nil {
			return err
		}
		if err := os.Remove(LogPath(p.WorkDir, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clean %s: %w", id, err)
		}
		switch {
		case s.Kind == plan.KindFetch || s.Kind == plan.KindPatch:
			if err := os.RemoveAll(s.SrcDir); err != nil {
				return fmt.Errorf("clean %s: %w", id, err)
			}
		case firstRun[id]:
			if err := os.RemoveAll(s.BuildDir); err != nil {
				return fmt.Errorf("clean %s: %w", id, err)
			}
		}
		fmt.Fprintf(out, "forgot %s\n", id)
	}
	return nil
}

// openWorkDir makes p's work dir ready for a run and takes its lock: a
// new or empty directory becomes a work dir, one made by an earlier
// bootstrap is adopted (pr says so), anything else is refused. Failing to
// create or lock it is a *workdir.Error naming it, so the real problem is
// what the porter reads (and no record is written for a run that never
// started); another run holding it is a *state.LockedError.
func openWorkDir(p *plan.Plan, pr progress.Printer) (*state.Lock, error) {
	var say func(string, ...any)
	if pr != nil {
		say = pr.Printf
	}
	if err := workdir.Prepare(p.WorkDir, p.Recipe.Name.Value, p.Target, say); err != nil {
		return nil, err
	}
	lock, err := state.Acquire(p.WorkDir)
	var locked *state.LockedError
	if err != nil && !errors.As(err, &locked) {
		return nil, &workdir.Error{Dir: p.WorkDir, Msg: "cannot lock it", Err: err}
	}
	return lock, err
}
