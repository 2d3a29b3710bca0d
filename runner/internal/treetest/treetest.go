// Package treetest describes directory trees for tests that compare a tree
// bootstrap wrote with the one a reference tool (tar, git, dpkg-source)
// wrote from the same input.
package treetest

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Options say what a description leaves out or adds.
type Options struct {
	// MTimes adds the modification time of files and directories.
	MTimes bool
	// Skip leaves out the path rel (relative to the tree) and, for a
	// directory, everything below it.
	Skip func(rel string) bool
}

// Describe maps every path below dir to its type, permission bits,
// content hash or link target (and mtime, with opts.MTimes).
func Describe(t testing.TB, dir string, opts Options) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if opts.Skip != nil && opts.Skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "symlink to " + target
			return nil
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha256 %x", sha256.Sum256(data))
		}
		if opts.MTimes {
			desc += fmt.Sprintf(" mtime %d", info.ModTime().Unix())
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Diff lists, sorted, every path missing from got, extra in it, or
// described differently from want.
func Diff(want, got map[string]string) []string {
	var diffs []string
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			diffs = append(diffs, "missing: "+name)
		case g != w:
			diffs = append(diffs, fmt.Sprintf("differs: %s (%s, want %s)", name, g, w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, "extra: "+name)
		}
	}
	slices.Sort(diffs)
	return diffs
}
