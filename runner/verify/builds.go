package verify

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/unpack"
)

// CompareBuilds compares v.File with v.Other, the same artifact built by
// component v.Component along another path (a native build against a
// cross-compile: diverse double-compiling, D. A. Wheeler 2009). From Go
// 1.21 on a toolchain does not depend on the machine that built it, so
// two paths that agree are evidence that neither was tampered with.
//
// Both are files or both directories. Files are compared by sha256; when
// they differ, a zip or tar archive is listed member by member, and any
// other file is named with both digests. Directories are compared file by
// file: type, permission bits, content, symlink target (not times, which
// no two builds share). It writes an account to log and returns the
// result, with a *MismatchError when the two differ, or another error
// when either cannot be read.
func CompareBuilds(v *plan.Verification, log io.Writer) (*Result, error) {
	res := &Result{Against: AgainstIndependent, Component: v.Component, Artifact: v.File, Other: v.Other, Reference: v.Reference}
	fi, err := os.Stat(v.File)
	if err != nil {
		return nil, fmt.Errorf("the artifact to verify: %w (set by file: at %s)", err, v.Pos)
	}
	oi, err := os.Stat(v.Other)
	if err != nil {
		return nil, fmt.Errorf("component %s's build to compare with: %w (set by other: at %s)", v.Component, err, v.Pos)
	}
	if fi.IsDir() != oi.IsDir() {
		return res, &MismatchError{Result: res, Note: fmt.Sprintf("this build is %s and %s's %s", kindOf(fi), v.Component, kindOf(oi))}
	}
	if fi.IsDir() {
		return compareTrees(res, log)
	}
	if res.ArtifactSHA256, err = treehash.FileSHA256(v.File); err != nil {
		return nil, fmt.Errorf("the artifact to verify: %w", err)
	}
	if res.ReferenceSHA256, err = treehash.FileSHA256(v.Other); err != nil {
		return nil, fmt.Errorf("component %s's build: %w", v.Component, err)
	}
	logBoth(log, res)
	if res.ArtifactSHA256 == res.ReferenceSHA256 {
		res.Identical = true
		fmt.Fprintln(log, "bit-identical")
		return res, nil
	}
	built, err := Entries(v.File)
	if errors.Is(err, unpack.ErrNotArchive) {
		// A plain file (a binary): its digests are all there is to list.
		b, o := plainEntry(v.File, fi, res.ArtifactSHA256), plainEntry(v.File, oi, res.ReferenceSHA256)
		res.Differences = []Difference{{Name: v.File, Built: &b, Official: &o}}
		return res, &MismatchError{Result: res}
	}
	if err != nil {
		return res, &MismatchError{Result: res, Note: fmt.Sprintf("this build's archive cannot be listed: %v", err)}
	}
	other, err := Entries(v.Other)
	if err != nil {
		return res, &MismatchError{Result: res, Note: fmt.Sprintf("%s's archive cannot be listed: %v", v.Component, err)}
	}
	res.Differences = Diff(built, other)
	mm := &MismatchError{Result: res}
	if len(res.Differences) == 0 {
		mm.Note = "every file is the same, so the archives differ in order, compression or metadata"
	}
	return res, mm
}

// compareTrees compares two directories file by file; the digests in res
// are their tree hashes.
func compareTrees(res *Result, log io.Writer) (*Result, error) {
	res.Tree = true
	a, err := treehash.Snap(res.Artifact, nil)
	if err != nil {
		return nil, fmt.Errorf("the artifact to verify: %w", err)
	}
	b, err := treehash.Snap(res.Other, nil)
	if err != nil {
		return nil, fmt.Errorf("component %s's build: %w", res.Component, err)
	}
	res.ArtifactSHA256 = strings.TrimPrefix(a.Hash, "sha256:")
	res.ReferenceSHA256 = strings.TrimPrefix(b.Hash, "sha256:")
	logBoth(log, res)
	res.Differences = Diff(treeEntries(a), treeEntries(b))
	if len(res.Differences) == 0 {
		res.Identical = true
		fmt.Fprintln(log, "bit-identical")
		return res, nil
	}
	return res, &MismatchError{Result: res}
}

// logBoth writes what is compared with what to the step's log.
func logBoth(log io.Writer, r *Result) {
	kind := "sha256"
	if r.Tree {
		kind = "tree hash sha256"
	}
	fmt.Fprintf(log, "this build: %s\n            %s %s\n%s's independent build: %s\n            %s %s\n",
		r.Artifact, kind, r.ArtifactSHA256, r.Component, r.Other, kind, r.ReferenceSHA256)
}

// treeEntries are a snapshot's entries as archive members: the path, the
// content digest (a symlink's "link:target"), the type and permission
// bits; no times.
func treeEntries(s *treehash.Snapshot) []Entry {
	out := make([]Entry, 0, len(s.Entries))
	for _, e := range s.Entries {
		m := fs.FileMode(e.Stat.Mode & 0o777)
		x := Entry{Name: e.Path, Size: e.Stat.Size, SHA256: e.Digest}
		switch e.Type {
		case "d":
			m |= fs.ModeDir
			x.Size = 0 // a directory's size is its file system's business
		case "l":
			m, x.SHA256, x.Size = fs.ModeSymlink|0o777, "link:"+e.Digest, 0
		case "o":
			m |= fs.ModeIrregular
		}
		x.Mode = m
		out = append(out, x)
	}
	return out
}

// plainEntry is a plain file as the one member of a list of differences.
func plainEntry(name string, fi fs.FileInfo, sum string) Entry {
	return Entry{Name: name, Size: fi.Size(), SHA256: sum, Mode: fi.Mode()}
}

// kindOf says "a directory" or "a file".
func kindOf(fi fs.FileInfo) string {
	if fi.IsDir() {
		return "a directory"
	}
	return "a file"
}
