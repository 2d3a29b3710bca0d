package patch

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// A patch must not reach outside the tree it patches, nor leave anything
// in it that a later step could use to do so. GNU patch ignores a header
// name that is absolute or has a ".." component and goes on with the
// other names, so "--- a/x" "+++ b/../../../x" patches x; git apply and
// dpkg-source refuse the patch. We refuse it, whichever header line holds
// the name and whether or not it is the name chosen. Both GNU patch 2.7.6
// and git apply 2.39 create a symlink to anywhere; we refuse one whose
// target leads out of the tree, because a later step writing to the link
// would write outside the work dir.

// maxLinks bounds the symlinks followed while resolving one path, as the
// kernel's ELOOP limit (40) does.
const maxLinks = 40

// checkNames refuses a patch any of whose header names, after -pN,
// is absolute or has a ".." component. It returns an *EscapeError for the
// first such name, or nil.
func checkNames(e Entry, pp *parsedPatch) error {
	for _, fp := range pp.files {
		seen := fp.names.seen
		if len(seen) == 0 {
			// The header scan lost track of this file (it never should):
			// check the names go-gitdiff read instead, unstripped, which is
			// stricter.
			for _, n := range []string{fp.file.OldName, fp.file.NewName} {
				seen = append(seen, seenName{name: n, line: fp.headerLine, form: "file header"})
			}
		}
		if err := checkSeen(e, seen); err != nil {
			return err
		}
	}
	return nil
}

// checkSeen returns an *EscapeError for the first name that leaves the
// tree after -pN, or nil.
func checkSeen(e Entry, seen []seenName) error {
	for _, s := range seen {
		strip := max(e.Strip-s.unprefixed, 0)
		name, ok := stripped(s.name, strip)
		if !ok {
			continue
		}
		if why := leaves(name); why != "" {
			if name != s.name {
				why = fmt.Sprintf("becomes %q with -p%d, which %s", name, strip, why)
			}
			return &EscapeError{Patch: e.File, PatchLine: s.line, Name: s.name,
				Why: fmt.Sprintf("the name on the %s %s", s.form, why)}
		}
	}
	return nil
}

// checkHeaders checks the names of every header the scan finds, before
// go-gitdiff parses the patch: a name that leaves the tree is the better
// error, even for a patch go-gitdiff refuses or cannot read (a context
// diff, which it takes for text around the patch). It returns an
// *EscapeError, an error for a context diff, or nil.
func checkHeaders(e Entry, data []byte) error {
	for _, h := range scanHeaders(data) {
		if err := checkSeen(e, h.names.seen); err != nil {
			return err
		}
	}
	if c, ok := scanContextDiff(data); ok {
		if err := checkSeen(e, c.seen); err != nil {
			return err
		}
		return fmt.Errorf("%s: a context diff (\"*** \" and \"--- \" headers): only unified and git diffs are applied; convert it with `filterdiff --format=unified` (patchutils) or regenerate it with diff -u",
			location(e.File, c.seen[0].line))
	}
	return nil
}

// leaves says why a tree-relative file name would leave the tree, or "".
func leaves(name string) string {
	if path.IsAbs(name) {
		return "is absolute"
	}
	if slices.Contains(strings.Split(name, "/"), "..") {
		return `has a ".." component`
	}
	return ""
}

// readLink reports whether name is a symlink as the patch being applied
// sees the tree, and its target. name must have no symlink before its
// last component (walk resolves those first).
func (o *overlay) readLink(name string) (string, bool) {
	if st, ok := o.files[name]; ok {
		return string(st.data), st.exists && st.mode&fs.ModeSymlink != 0
	}
	native := filepath.FromSlash(name)
	fi, err := o.root.Lstat(native)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return "", false
	}
	target, err := o.root.Readlink(native)
	return target, err == nil
}

// walker resolves paths in the tree as the patch being applied sees it.
type walker struct {
	o *overlay
	// hops counts the symlinks followed; via lists them, "link -> target",
	// to say how a walk left the tree.
	hops int
	via  []string
}

// walk resolves rel from the directory dir (components from the tree's
// top, symlinks already resolved) as the kernel would, following the
// symlinks of the tree and of the patch so far, and returns where it ends.
// why is non-empty when the walk leaves the tree at any point, even to
// come back: an absolute target, or ".." above the top. A name that does
// not exist (yet) is taken as a plain directory or file.
func (w *walker) walk(dir []string, rel string) (end []string, why string) {
	if path.IsAbs(rel) {
		return nil, fmt.Sprintf("%q is absolute", rel) + w.after()
	}
	cur := slices.Clone(dir)
	for _, c := range strings.Split(rel, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return nil, `".." climbs above the top of the tree` + w.after()
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		link := strings.Join(cur, "/")
		target, ok := w.o.readLink(link)
		if !ok {
			continue
		}
		if w.hops++; w.hops > maxLinks {
			return nil, "too many levels of symbolic links" + w.after()
		}
		w.via = append(w.via, link+" -> "+target)
		if cur, why = w.walk(cur[:len(cur)-1], target); why != "" {
			return nil, why
		}
	}
	return cur, ""
}

// after names the symlinks followed so far, for an error.
func (w *walker) after() string {
	switch len(w.via) {
	case 0:
		return ""
	case 1:
		return " (through the symlink " + w.via[0] + ")"
	}
	return " (through the symlinks " + strings.Join(w.via, ", ") + ")"
}

// checkLink refuses a symlink at name (tree-relative, clean) whose target
// leads out of the tree. It returns the reason, or "".
func (o *overlay) checkLink(name, target string) string {
	w := &walker{o: o}
	dir, why := w.walk(nil, path.Dir(name))
	if why == "" {
		_, why = w.walk(dir, target)
	}
	if why != "" {
		return fmt.Sprintf("the symlink's target %q leads out of the source tree: %s", target, why)
	}
	return ""
}

// checkPath refuses to read or write name (tree-relative, clean) when a
// directory on its way is a symlink leading out of the tree. os.Root would
// refuse the write too, but only while the patch is being written, and
// less clearly. It returns the reason, or "".
func (o *overlay) checkPath(name string) string {
	w := &walker{o: o}
	if _, why := w.walk(nil, path.Dir(name)); why != "" {
		return "reaching it leads out of the source tree: " + why
	}
	return ""
}
