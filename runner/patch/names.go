package patch

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const devNull = "/dev/null"

// headerNames are the file names one file header of a patch gives, as
// written (before -pN), read the way GNU patch 2.7 reads them.
type headerNames struct {
	// gitOld and gitNew are the two names of a well-formed "diff --git"
	// line; both are empty when the line is missing or cannot be split
	// into exactly two names (GNU patch then ignores it too).
	gitOld, gitNew string
	// old and new are the names on the "---" and "+++" lines, empty when
	// the header has none.
	old, new string
	// index is the name on an "Index:" line before the header.
	index string
	// seen is every name the header gives, on any of its lines (the
	// above and git's "rename from"/"copy to" lines), with where it
	// stands, so that none that leaves the tree goes unnoticed, whether
	// or not it is the one chosen.
	seen []seenName
}

// seenName is one file name as a header line gives it.
type seenName struct {
	name string
	// line is the 1-based line of the patch file, form says which line
	// it is ("+++ line", "rename from line", …).
	line int
	form string
	// unprefixed is 1 for names git writes without an a/ or b/ prefix
	// (rename and copy lines): -pN drops one component fewer from them.
	unprefixed int
}

// add records a name a header line gives; empty names are skipped.
func (h *headerNames) add(name string, line int, form string, unprefixed int) {
	if name != "" {
		h.seen = append(h.seen, seenName{name: name, line: line, form: form, unprefixed: unprefixed})
	}
}

// Slots of the candidate names, in GNU patch's order.
const (
	slotOld = iota
	slotNew
	slotIndex
	slots
)

// candidates applies -pN to the header's names and returns them in the
// order old, new, index, "" where a slot is empty, following GNU patch's
// intuit_diff_type:
//
//  1. a well-formed "diff --git" line gives old and new;
//  2. a "---" name replaces old and a "+++" name replaces new, unless it
//     is /dev/null or has too few components for -pN (then it is ignored);
//  3. the "Index:" name counts only when there is neither old nor new
//     (GNU patch's behaviour unless POSIXLY_CORRECT is set).
func (h headerNames) candidates(n int) [slots]string {
	var c [slots]string
	if o, ok := stripped(h.gitOld, n); ok {
		if nw, ok := stripped(h.gitNew, n); ok {
			c[slotOld], c[slotNew] = o, nw
		}
	}
	if o, ok := stripped(h.old, n); ok {
		c[slotOld] = o
	}
	if nw, ok := stripped(h.new, n); ok {
		c[slotNew] = nw
	}
	if c[slotOld] == "" && c[slotNew] == "" {
		c[slotIndex], _ = stripped(h.index, n)
	}
	return c
}

// stripped drops n leading components from a patch file name, as -pN
// does (a run of slashes is one separator). ok is false for an empty name,
// /dev/null, or a name with too few components, which GNU patch ignores.
func stripped(name string, n int) (string, bool) {
	if name == "" || name == devNull {
		return "", false
	}
	rest := name
	for i := 0; i < n; i++ {
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return "", false
		}
		rest = strings.TrimLeft(rest[j+1:], "/")
	}
	return rest, rest != ""
}

// tree answers the questions the choice of name asks about the tree.
type tree interface {
	// exists reports whether name is present (as anything).
	exists(name string) bool
	// isDir reports whether dir is an existing directory.
	isDir(dir string) bool
}

// chooseName returns the slot of the candidate GNU patch patches, or -1:
//
//  1. of the names that exist, the best (see bestName);
//  2. if none exists and the patch creates the file (old side /dev/null,
//     "new file mode", or a first hunk starting at line 0), the best of
//     the names that need the fewest new directories;
//  3. otherwise none: the file to patch is missing.
func chooseName(c [slots]string, t tree, creates bool) int {
	var skip [slots]int
	for i, name := range c {
		if name != "" && !t.exists(name) {
			skip[i] = 1
		}
	}
	if i := bestName(c, skip); i >= 0 || !creates {
		return i
	}
	var newDirs [slots]int
	fewest := -1
	for i, name := range c {
		if name == "" {
			continue
		}
		newDirs[i] = components(name) - existingDirs(name, t)
		if fewest < 0 || newDirs[i] < fewest {
			fewest = newDirs[i]
		}
	}
	for i := range newDirs {
		newDirs[i] -= fewest
	}
	return bestName(c, newDirs)
}

// bestName is GNU patch's best_name: among the non-empty candidates whose
// skip is 0, those with the fewest directory components, of those the
// shortest base name, of those the shortest name, and of those the first
// in slot order. So "file" beats "file.orig" and "orig/file".
func bestName(c [slots]string, skip [slots]int) int {
	best := -1
	for i, name := range c {
		if name == "" || skip[i] != 0 {
			continue
		}
		if best < 0 || betterName(name, c[best]) {
			best = i
		}
	}
	return best
}

// betterName reports whether a ranks strictly before b in bestName's order.
func betterName(a, b string) bool {
	if ca, cb := components(a), components(b); ca != cb {
		return ca < cb
	}
	if la, lb := len(path.Base(a)), len(path.Base(b)); la != lb {
		return la < lb
	}
	return len(a) < len(b)
}

// components counts the directory components of name: the slashes that
// end a run and are not at its start.
func components(name string) int {
	n := 0
	for i := 1; i < len(name); i++ {
		if name[i] == '/' && name[i-1] != '/' {
			n++
		}
	}
	return n
}

// existingDirs counts the leading directories of name that exist.
func existingDirs(name string, t tree) int {
	n := 0
	for i := 1; i < len(name); i++ {
		if name[i] == '/' && name[i-1] != '/' {
			if !t.isDir(name[:i]) {
				break
			}
			n++
		}
	}
	return n
}

// checkTarget rejects a chosen name that would leave the tree: absolute,
// containing "..", or empty. os.Root enforces the same at write time (and
// also refuses symlinks that lead out); this check gives the better message.
func checkTarget(name string) (string, error) {
	if name == "" || name == devNull {
		return "", errors.New("empty target file name")
	}
	clean := path.Clean(name)
	if path.IsAbs(name) || !filepath.IsLocal(filepath.FromSlash(clean)) || clean == "." {
		return "", fmt.Errorf("target %q is outside the source tree", name)
	}
	return clean, nil
}

// targets are the tree-relative names one file patch reads and writes.
type targets struct {
	old, new string // "" when the file is created or deleted respectively
}

// resolveNames computes the tree-relative old and new names of fp under
// strip level n with GNU patch's rules (see candidates and chooseName). A
// rename or copy reads the old name and writes the new one; any other
// change reads and writes the one chosen name.
func resolveNames(fp *filePatch, n int, t tree) (targets, error) {
	f := fp.file
	c := fp.names.candidates(n)
	var oldName, newName string
	switch {
	case c == [slots]string{} && fp.git && (f.OldName != "" || f.NewName != ""):
		// A "diff --git" line GNU patch cannot split (unquoted names with
		// spaces) and no "---"/"+++": go-gitdiff still read the names,
		// without their a/ b/ prefixes, from the line or from git's
		// "rename from"/"rename to".
		k := max(n-1, 0)
		oldName, _ = stripped(f.OldName, k)
		newName, _ = stripped(f.NewName, k)
	case f.IsRename || f.IsCopy:
		oldName, newName = c[slotOld], c[slotNew]
		if oldName == "" || newName == "" {
			return targets{}, fmt.Errorf("cannot rename or copy without two file names after -p%d", n)
		}
	default:
		i := chooseName(c, t, creates(fp))
		if i < 0 {
			return targets{}, missingError(fp, c, n)
		}
		oldName, newName = c[i], c[i]
	}
	var tg targets
	var err error
	if !f.IsNew {
		if tg.old, err = checkTarget(oldName); err != nil {
			return targets{}, err
		}
	}
	if !f.IsDelete {
		if tg.new, err = checkTarget(newName); err != nil {
			return targets{}, err
		}
	}
	return tg, nil
}

// creates reports whether the patch says the old file does not exist.
func creates(fp *filePatch) bool {
	f := fp.file
	if f.IsNew {
		return true
	}
	frags := f.TextFragments
	return len(frags) > 0 && frags[0].OldPosition == 0 && frags[0].OldLines == 0
}

// missingError explains why no candidate was chosen.
func missingError(fp *filePatch, c [slots]string, n int) error {
	var named []string
	for _, name := range c {
		if q := strconv.Quote(name); name != "" && !slices.Contains(named, q) {
			named = append(named, q)
		}
	}
	if len(named) == 0 {
		h := fp.names
		var raw []string
		for _, name := range []string{h.gitOld, h.gitNew, h.old, h.new, h.index} {
			if name != "" && name != devNull {
				raw = append(raw, strconv.Quote(name))
			}
		}
		if len(raw) == 0 {
			return errors.New("no file name in the diff header")
		}
		return fmt.Errorf("no file name is left after -p%d strips the names %s (use a lower -p level)", n, strings.Join(raw, ", "))
	}
	return fmt.Errorf("file to patch not found (with -p%d the patch names %s; check the strip level)", n, strings.Join(named, " or "))
}

// firstName is the first candidate name, to name the file in an error
// about it.
func firstName(fp *filePatch, n int) string {
	for _, name := range fp.names.candidates(n) {
		if name != "" {
			return name
		}
	}
	return ""
}
