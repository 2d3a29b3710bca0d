package patch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

const devNull = "/dev/null"

// stripName drops n leading components from a patch file name, as -pN
// does; runs of slashes count as one separator.
func stripName(name string, n int) (string, error) {
	rest := name
	for i := 0; i < n; i++ {
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return "", fmt.Errorf("cannot strip %d leading components from %q (use a lower -p level)", n, name)
		}
		rest = strings.TrimLeft(rest[j+1:], "/")
	}
	return rest, nil
}

// checkTarget rejects a stripped name that would leave the tree: absolute,
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
// strip level n. exists reports whether a name is present in the tree; it is
// used, as GNU patch does, to choose between differing names of a plain
// unified diff.
func resolveNames(fp *filePatch, n int, exists func(string) bool) (targets, error) {
	f := fp.file
	var oldName, newName string
	var err error
	if fp.git {
		oldName, newName, err = gitNames(fp, n)
	} else {
		oldName, newName, err = plainNames(fp, n, exists)
	}
	if err != nil {
		return targets{}, err
	}
	var t targets
	if !f.IsNew {
		if t.old, err = checkTarget(oldName); err != nil {
			return targets{}, err
		}
	}
	if !f.IsDelete {
		if t.new, err = checkTarget(newName); err != nil {
			return targets{}, err
		}
	}
	return t, nil
}

// gitNames handles git headers. gitdiff has already dropped one component
// (the a/ and b/ prefixes), so -pN drops N-1 more. -p0 on a git patch is only
// meaningful for one made with --no-prefix, so we go back to the raw names.
func gitNames(fp *filePatch, n int) (string, string, error) {
	f := fp.file
	if n >= 1 || f.IsRename || f.IsCopy {
		// rename/copy names carry no a/ b/ prefix; git strips N-1 of them.
		k := max(n-1, 0)
		o, err := stripIfSet(f.OldName, k)
		if err != nil {
			return "", "", err
		}
		nw, err := stripIfSet(f.NewName, k)
		return o, nw, err
	}
	o, nw := fp.rawOld, fp.rawNew
	if o == "" && nw == "" {
		// mode change or empty file: the names are only on the diff --git
		// line, "X X" with X repeated.
		s := fp.gitNames
		if len(s)%2 == 1 && s[len(s)/2] == ' ' && s[:len(s)/2] == s[len(s)/2+1:] {
			o, nw = s[:len(s)/2], s[:len(s)/2]
		} else {
			return "", "", fmt.Errorf("cannot read file names from %q with -p0", "diff --git "+s)
		}
	}
	return o, nw, nil
}

func stripIfSet(name string, n int) (string, error) {
	if name == "" || name == devNull {
		return name, nil
	}
	return stripName(name, n)
}

// plainNames handles "---"/"+++" headers. When the stripped names differ,
// the one present in the tree wins; among several the one with the fewest
// components, then the shortest base name, then the shortest name (so
// "file.orig" or "orig/file" loses to "file").
func plainNames(fp *filePatch, n int, exists func(string) bool) (string, string, error) {
	f := fp.file
	rawOld, rawNew := fp.rawOld, fp.rawNew
	if rawOld == "" && rawNew == "" {
		rawOld, rawNew = f.OldName, f.NewName
	}
	var cands []string
	for _, r := range []string{rawOld, rawNew} {
		if r == "" || r == devNull {
			continue
		}
		s, err := stripName(r, n)
		if err != nil {
			return "", "", err
		}
		cands = append(cands, s)
	}
	if len(cands) == 0 {
		return "", "", errors.New("no file name in the diff header")
	}
	switch {
	case f.IsNew:
		return "", cands[len(cands)-1], nil
	case f.IsDelete:
		return cands[0], "", nil
	}
	best := ""
	bestExists := false
	for _, c := range cands {
		e := exists(c)
		if best == "" || (e && !bestExists) || (e == bestExists && betterName(c, best)) {
			best, bestExists = c, e
		}
	}
	return best, best, nil
}

func betterName(a, b string) bool {
	ca, cb := strings.Count(a, "/"), strings.Count(b, "/")
	if ca != cb {
		return ca < cb
	}
	if la, lb := len(path.Base(a)), len(path.Base(b)); la != lb {
		return la < lb
	}
	return len(a) < len(b)
}

// existsIn reports whether name is present (as anything) inside root.
func existsIn(root *os.Root) func(string) bool {
	return func(name string) bool {
		_, err := root.Lstat(filepath.FromSlash(name))
		return err == nil || !errors.Is(err, fs.ErrNotExist)
	}
}
