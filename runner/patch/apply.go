// Package patch applies patches to an unpacked source tree in pure Go, so a
// board needs neither GNU patch nor quilt. It reads unified and git diffs
// (new, deleted, renamed and copied files, mode changes, "\ No newline at
// end of file", CRLF files, git binary patches) with go-gitdiff and places
// each hunk itself: nearest match first around the header's line (offsets
// are always allowed and reported), then with fuzz (up to N context lines
// ignored at each end of the hunk) only as far as the recipe allows.
//
// Every failure names the patch file and line, the target file and the
// hunk, and shows the expected lines next to the file's; a patch whose
// reverse applies is reported as already applied. A patch is applied to
// the tree only once all its files have applied (each file through a
// temporary file and a rename); nothing is ever written outside the tree.
// A patch that would reach outside it is refused as a whole (see
// EscapeError): a header name that is absolute or has a ".." component,
// on any header line, a symlink whose target leads out of the tree, or a
// file reached through one.
package patch

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/quilt"
)

// Entry is one patch file to apply, with its -pN level.
type Entry struct {
	File  string
	Strip int
}

// Entries lists the patch files of a recipe entry: the file itself, or
// every patch of the series in order, where a "-pN" on a series line
// overrides p.Strip. It returns an error naming the series file and line.
func Entries(p plan.Patch) ([]Entry, error) {
	if p.Series == "" {
		if p.File == "" {
			return nil, errors.New("patch entry has neither file nor series")
		}
		return []Entry{{File: p.File, Strip: p.Strip}}, nil
	}
	f, err := os.Open(p.Series)
	if err != nil {
		return nil, fmt.Errorf("read series: %w", err)
	}
	defer f.Close()
	list, err := quilt.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("series %s: %w", p.Series, err)
	}
	dir := filepath.Dir(p.Series)
	entries := make([]Entry, 0, len(list))
	for _, e := range list {
		strip := p.Strip
		if e.Strip >= 0 {
			strip = e.Strip
		}
		entries = append(entries, Entry{File: filepath.Join(dir, filepath.FromSlash(e.Name)), Strip: strip})
	}
	return entries, nil
}

// Apply applies one recipe patch entry (a file, or every patch of a series)
// to the directory tree, writes an account of every hunk to log and returns
// the same as a Record. It stops at the first patch that fails and returns
// a *HunkError, *FileError or *AlreadyAppliedError for it (the Record then
// holds the patches applied before). Patches before the failing one stay
// applied: the caller applies into a fresh tree and discards it on error.
func Apply(ctx context.Context, tree string, p plan.Patch, log io.Writer) (*Record, error) {
	entries, err := Entries(p)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(tree)
	if err != nil {
		return nil, fmt.Errorf("open tree: %w", err)
	}
	defer root.Close()
	rec := &Record{Patches: []PatchRecord{}}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return rec, err
		}
		fmt.Fprintf(log, "applying %s (-p%d)\n", e.File, e.Strip)
		pr, err := applyEntry(root, e, p.Fuzz)
		if err != nil {
			fmt.Fprintf(log, "FAILED: %v\n", err)
			return rec, err
		}
		pr.writeLog(log)
		rec.Patches = append(rec.Patches, *pr)
	}
	return rec, nil
}

// applyEntry applies one patch file. It returns the error as described for
// Apply; the tree is untouched when it fails.
func applyEntry(root *os.Root, e Entry, fuzz int) (*PatchRecord, error) {
	data, err := os.ReadFile(e.File)
	if err != nil {
		return nil, fmt.Errorf("read patch: %w", err)
	}
	if err := checkHeaders(e, data); err != nil {
		return nil, err
	}
	pp, err := parsePatch(e.File, data)
	if err != nil {
		return nil, err
	}
	if err := checkNames(e, pp); err != nil {
		return nil, err
	}
	ov := newOverlay(root)
	pr := &PatchRecord{File: e.File, Strip: e.Strip, Files: []FileRecord{}}
	for _, fp := range pp.files {
		fr, err := applyFile(ov, e, fp, fuzz)
		if err != nil {
			// An escape is refused as such, even if the reverse would
			// apply: "already applied" would hide it.
			var esc *EscapeError
			if !errors.As(err, &esc) && reverseApplies(root, e, pp) {
				return nil, &AlreadyAppliedError{Patch: e.File, Cause: err}
			}
			return nil, err
		}
		pr.Files = append(pr.Files, fr)
	}
	if err := ov.commit(); err != nil {
		return nil, fmt.Errorf("patch %s: %w", e.File, err)
	}
	return pr, nil
}

// reverseApplies reports whether the reverse of the whole patch applies
// exactly to the tree, i.e. the patch is already applied. Nothing is
// written.
func reverseApplies(root *os.Root, e Entry, pp *parsedPatch) bool {
	ov := newOverlay(root)
	for _, fp := range pp.files {
		rfp, ok := reverse(fp)
		if !ok {
			return false
		}
		if _, err := applyFile(ov, e, rfp, 0); err != nil {
			return false
		}
	}
	return len(pp.files) > 0
}

// applyFile applies one file's changes to the overlay and returns its
// record, or a *HunkError or *FileError.
func applyFile(ov *overlay, e Entry, fp *filePatch, fuzz int) (FileRecord, error) {
	f := fp.file
	fail := func(target string, err error) error {
		return &FileError{Patch: e.File, PatchLine: fp.headerLine, Target: target, Err: err}
	}
	t, err := resolveNames(fp, e.Strip, ov)
	if err != nil {
		return FileRecord{}, fail(firstName(fp, e.Strip), err)
	}
	for _, n := range []string{t.old, t.new} {
		if why := ov.checkPath(n); n != "" && why != "" {
			return FileRecord{}, &EscapeError{Patch: e.File, PatchLine: fp.headerLine, Name: n, Why: why}
		}
	}
	src, creating, err := source(ov, fp, t, e.Strip)
	if err != nil {
		return FileRecord{}, fail(cmp.Or(t.new, t.old), err)
	}
	name := t.new
	if name == "" {
		name = t.old
	}
	fr := FileRecord{Path: name, Change: Modified, Binary: f.IsBinary}
	var data []byte
	if f.IsBinary {
		if data, err = applyBinary(f, src.data); err != nil {
			return FileRecord{}, fail(name, err)
		}
	} else {
		var herr error
		if data, fr.Hunks, herr = applyText(e, fp, name, src.data, fuzz); herr != nil {
			return FileRecord{}, herr
		}
	}
	mode := src.mode
	if creating {
		mode = 0o644
	}
	if f.NewMode != 0 {
		mode = gitMode(f.NewMode)
		fr.Mode = fmt.Sprintf("%o", uint32(f.NewMode)&0o170777)
	}
	if mode&fs.ModeSymlink != 0 {
		if why := ov.checkLink(name, string(data)); why != "" {
			return FileRecord{}, &EscapeError{Patch: e.File, PatchLine: fp.headerLine, Name: name, Why: why}
		}
	}
	if err := store(ov, fp, t, data, mode, creating, &fr); err != nil {
		return FileRecord{}, fail(name, err)
	}
	return fr, nil
}

// source returns the content the patch applies to (empty for a new file)
// and whether the file is being created.
func source(ov *overlay, fp *filePatch, t targets, strip int) (*fileState, bool, error) {
	f := fp.file
	if f.IsNew {
		st, err := ov.get(t.new)
		if err != nil {
			return nil, false, err
		}
		// GNU patch creates over an existing empty file; so do we.
		if st.exists && (len(st.data) > 0 || fp.git) {
			return nil, false, errors.New("the patch creates this file, but it already exists")
		}
		return &fileState{}, true, nil
	}
	st, err := ov.get(t.old)
	if err != nil {
		return nil, false, err
	}
	if st.exists {
		return st, false, nil
	}
	// A plain unified diff creates a file with a lone "-0,0" hunk even
	// when its old name is not /dev/null.
	if !fp.git && len(f.TextFragments) == 1 && f.TextFragments[0].OldLines == 0 && f.TextFragments[0].OldPosition == 0 {
		return &fileState{}, true, nil
	}
	return nil, false, fmt.Errorf("file to patch not found (with -p%d the patch names %q; check the strip level)", strip, t.old)
}

// applyText applies the text hunks to data, or returns a *HunkError.
func applyText(e Entry, fp *filePatch, name string, data []byte, fuzz int) ([]byte, []HunkRecord, error) {
	frags := fp.file.TextFragments
	if len(frags) == 0 {
		return data, nil, nil
	}
	lines := splitLines(data)
	out, places, m := applyHunks(lines, frags, fuzz)
	if m != nil {
		return nil, nil, hunkError(e, fp, name, lines, m, fuzz)
	}
	recs := make([]HunkRecord, len(places))
	for i, pl := range places {
		recs[i] = HunkRecord{
			Header: fp.hunkHeader(i), Line: pl.start + 1, Offset: pl.offset,
			Fuzz: pl.fuzz, LineEndings: pl.eol,
		}
		if fp.hunkLines != nil {
			recs[i].PatchLine = fp.hunkLines[i]
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(data) + 256)
	for _, l := range out {
		buf.WriteString(l)
	}
	return buf.Bytes(), recs, nil
}

func hunkError(e Entry, fp *filePatch, name string, lines []string, m *miss, fuzz int) *HunkError {
	frag := fp.file.TextFragments[m.hunk]
	exp := oldSide(frag)
	near := min(m.near, len(lines))
	he := &HunkError{
		Patch: e.File, Target: name, Hunk: m.hunk + 1, Header: fp.hunkHeader(m.hunk),
		Line: m.expected + 1, Fuzz: fuzz, Expected: exp,
		Actual: lines[near:min(near+max(len(exp), 1), len(lines))], ActualLine: near + 1,
	}
	if fp.hunkLines != nil {
		he.PatchLine = fp.hunkLines[m.hunk]
	}
	if m.fuzzed != nil {
		he.FuzzNeeded, he.FuzzLine = m.fuzzed.fuzz, m.fuzzed.start+1
	}
	return he
}

// store records the result in the overlay, deciding what the change was.
func store(ov *overlay, fp *filePatch, t targets, data []byte, mode fs.FileMode, creating bool, fr *FileRecord) error {
	f := fp.file
	switch {
	case f.IsDelete:
		if len(data) > 0 {
			return fmt.Errorf("the patch deletes this file, but %d bytes would remain", len(data))
		}
		ov.remove(t.old)
		fr.Change = Deleted
		return nil
	case !fp.git && !creating && len(data) == 0 && emptiesFile(f):
		// A plain diff can only say "deleted" by emptying the file; GNU
		// patch -E (as dpkg-source runs it) removes it, and so do we.
		ov.remove(t.old)
		fr.Change = Deleted
		return nil
	}
	ov.set(t.new, data, mode)
	switch {
	case creating:
		fr.Change = Created
	case f.IsRename && t.old != t.new:
		ov.remove(t.old)
		fr.Change, fr.OldPath = Renamed, t.old
	case f.IsCopy:
		fr.Change, fr.OldPath = Copied, t.old
	}
	return nil
}

// emptiesFile reports whether the diff says the new file is empty: every
// hunk ends at "+0,0".
func emptiesFile(f *gitdiff.File) bool {
	for _, fr := range f.TextFragments {
		if fr.NewLines != 0 || fr.NewPosition != 0 {
			return false
		}
	}
	return len(f.TextFragments) > 0
}
