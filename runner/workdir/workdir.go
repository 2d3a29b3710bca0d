// Package workdir makes a bootstrap work dir recognisable as one, so that no
// command ever removes what bootstrap did not create.
//
// A work dir carries a marker file, .bootstrap-workdir (JSON: format
// version, recipe, target, which bootstrap created it and when), written
// atomically when bootstrap creates the directory. Every command that
// removes anything under a work dir calls Check first and refuses a
// directory without the marker; `run` (and every command that would create
// a work dir) calls Ensure, which creates an empty or missing directory as a
// work dir and refuses a non-empty one that is not a work dir.
//
// Work dirs made before the marker existed (bootstrap releases up to
// December 2026) have none. Ensure recognises their layout (a `lock` file
// that the old release wrote as "pid N", beside state/ or logs/), adopts
// them by writing the marker and says so once; their checkpoints are kept,
// so finished steps stay done. Check refuses such a directory and says that
// `bootstrap run` adopts it: a command that removes things never guesses.
package workdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"
)

// MarkerName is the marker file's name in a work dir.
const MarkerName = ".bootstrap-workdir"

// Format is the marker format this bootstrap writes and understands. A
// marker with a higher format was written by a newer bootstrap whose layout
// this one may not know, so it is refused rather than guessed at.
const Format = 1

// Marker is the content of a work dir's marker file.
type Marker struct {
	// Format is the marker's format version.
	Format int `json:"format"`
	// Recipe is the name of the recipe the work dir was created for.
	Recipe string `json:"recipe"`
	// Target is the target it was created for.
	Target string `json:"target"`
	// Bootstrap is the version of the bootstrap that created it.
	Bootstrap string `json:"bootstrap"`
	// Created is when it was created (or adopted).
	Created time.Time `json:"created"`
	// Adopted is set when the directory was made by an earlier bootstrap
	// without a marker and adopted later.
	Adopted bool `json:"adopted,omitempty"`
}

// Outcome is what Ensure found.
type Outcome int

const (
	// Existing is a work dir that already had its marker.
	Existing Outcome = iota
	// Created is a directory that was missing or empty and is now a work
	// dir.
	Created
	// Adopted is a work dir made by an earlier bootstrap that now has its
	// marker.
	Adopted
)

// Error says why a directory cannot be used or cleaned as a work dir. It is
// a usage-class error (exit 2): the directory named is the wrong one, or
// one bootstrap cannot write.
type Error struct {
	// Dir is the directory.
	Dir string
	// Msg says what is wrong and what to do.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("work dir %s: %s: %v", e.Dir, e.Msg, e.Err)
	}
	return fmt.Sprintf("work dir %s: %s", e.Dir, e.Msg)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Default is the work dir used without --workdir, relative to the current
// directory: ./.bootstrap/<recipe>-<target>. The target is part of it so
// that building a recipe for a second target does not throw away the
// first target's checkpoints.
func Default(recipe, target string) string {
	return filepath.Join(".bootstrap", recipe+"-"+target)
}

// OldDefault is the default work dir of bootstrap releases that keyed it
// by recipe name only: ./.bootstrap/<recipe>.
func OldDefault(recipe string) string {
	return filepath.Join(".bootstrap", recipe)
}

// OldDefaultNotice returns the line to print when the old default work dir
// of recipe exists and the new default one (for target) does not exist yet,
// and "" otherwise. It stops once a run has created the new one, so it is
// said until the porter has chosen, not on every command forever.
func OldDefaultNotice(recipe, target string) string {
	old, cur := OldDefault(recipe), Default(recipe, target)
	if _, err := os.Stat(cur); err == nil {
		return ""
	}
	if fi, err := os.Stat(old); err != nil || !fi.IsDir() {
		return ""
	}
	return fmt.Sprintf("./%s is no longer the default work dir of %s: it is now ./%s, one per target; to keep using the old one, pass --workdir %s",
		old, recipe, cur, old)
}

// Read reads dir's marker. It returns an error wrapping fs.ErrNotExist when
// there is none.
func Read(dir string) (*Marker, error) {
	data, err := os.ReadFile(filepath.Join(dir, MarkerName))
	if err != nil {
		return nil, err
	}
	var m Marker
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, &Error{Dir: dir, Msg: fmt.Sprintf("its %s cannot be read (remove it by hand only if this is a work dir)", MarkerName), Err: err}
	}
	if m.Format < 1 || m.Format > Format {
		return nil, &Error{Dir: dir, Msg: fmt.Sprintf("its %s has format %d; this bootstrap knows format %d only: use the bootstrap that made it, or a newer one", MarkerName, m.Format, Format)}
	}
	return &m, nil
}

// Check returns dir's marker, or an *Error naming dir and saying why it is
// not a work dir that may be changed. what is the action refused ("remove
// anything in it"). A missing dir is reported with an error wrapping
// fs.ErrNotExist so that callers with nothing to do can say so.
func Check(dir, what string) (*Marker, error) {
	m, err := Read(dir)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		return nil, &Error{Dir: dir, Msg: "does not exist", Err: fs.ErrNotExist}
	}
	if Legacy(dir) {
		return nil, &Error{Dir: dir, Msg: fmt.Sprintf("was made by an earlier bootstrap and has no %s marker yet; refusing to %s: `bootstrap run` adopts it (keeping its checkpoints), then try again", MarkerName, what)}
	}
	return nil, &Error{Dir: dir, Msg: fmt.Sprintf("is not a bootstrap work dir (it has no %s marker; it holds %s); refusing to %s", MarkerName, holding(dir), what)}
}

// Ensure makes dir usable as the work dir of recipe for target: a missing
// or empty directory is created and marked; a marked one is used as it is;
// one made by an earlier bootstrap is adopted (marked, everything in it
// kept). Anything else is refused with an *Error: a non-empty directory
// that is not a work dir is someone's files. A directory that cannot be
// created or marked is an *Error naming it too.
func Ensure(dir, recipe, target string) (Outcome, error) {
	_, err := Read(dir)
	if err == nil {
		return Existing, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Existing, err
	}
	outcome := Created
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Existing, &Error{Dir: dir, Msg: "cannot create it", Err: err}
		}
	case err != nil:
		return Existing, &Error{Dir: dir, Msg: "cannot read it", Err: err}
	case onlyMarkerTemps(entries):
		// Empty, or a run killed while writing the marker (or racing
		// this one to create the same new dir) left its temp file.
	case Legacy(dir):
		outcome = Adopted
	default:
		return Existing, &Error{Dir: dir, Msg: fmt.Sprintf("refusing to use it as a work dir: it holds %s but no %s marker, so it is not one; give --workdir a new or empty directory",
			holding(dir), MarkerName)}
	}
	m := Marker{Format: Format, Recipe: recipe, Target: target, Bootstrap: version(), Created: time.Now().UTC().Truncate(time.Second), Adopted: outcome == Adopted}
	if err := write(dir, m); err != nil {
		return Existing, &Error{Dir: dir, Msg: "cannot write its marker", Err: err}
	}
	return outcome, nil
}

// onlyMarkerTemps reports whether entries hold nothing but temp files of
// write.
func onlyMarkerTemps(entries []fs.DirEntry) bool {
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), MarkerName+".tmp-") {
			return false
		}
	}
	return true
}

// Legacy reports whether dir looks like a work dir made by a bootstrap from
// before the marker: a `lock` file in the form that release wrote ("pid N"
// on its first line) and a state/ or logs/ directory beside it. Nothing
// else bootstrap does not own fits that by chance.
func Legacy(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "lock"))
	if err != nil || !strings.HasPrefix(string(data), "pid ") {
		return false
	}
	for _, d := range []string{"state", "logs"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// holding lists the first few entries of dir for an error message, as
// "a, b, c and 4 more", or "nothing" when it holds none (or cannot be read).
func holding(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return "nothing"
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	const show = 5
	s := strings.Join(names[:min(show, len(names))], ", ")
	if len(names) > show {
		s += fmt.Sprintf(" and %d more", len(names)-show)
	}
	return s
}

// write stores the marker atomically (temp file, fsync, rename), so a run
// killed midway leaves either no marker or a whole one.
func write(dir string, m Marker) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, MarkerName+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, MarkerName))
}

// version names this bootstrap for the marker: its module version and VCS
// revision, as far as the binary records them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}

// Prepare is Ensure for a command about to write into dir: it says, through
// say (a Printf without the newline), when it adopted a work dir made by an
// earlier bootstrap, and returns Ensure's *Error otherwise.
func Prepare(dir, recipe, target string, say func(format string, args ...any)) error {
	outcome, err := Ensure(dir, recipe, target)
	if err != nil {
		return err
	}
	if outcome == Adopted && say != nil {
		say("adopted work dir %s made by an earlier bootstrap: its checkpoints are kept (marker %s written)", dir, MarkerName)
	}
	return nil
}
