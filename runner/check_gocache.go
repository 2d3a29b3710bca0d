package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
)

// What `run --check` does not compare, and why (docs/emulation.md,
// "Checking emulated results"): Go's build cache. Recipes keep GOCACHE in
// the build dir, and a cache differs between two builds of the same
// inputs by design: each action entry (<xx>/<id>-a) records the time it
// was written, and which entries exist depends on what was built before.
// The 386 check of go:make found exactly such files differing while the
// toolchain was bit-identical. Nothing leaves a build through its cache
// alone — every binary, package and zip a step makes from it lands in the
// trees that are compared — so skipping it hides no result, only the
// noise. The rule is narrow: a directory is a Go build cache when it holds
// the README Go writes there (cmd/go/internal/cache), and only the entries
// of the cache's own layout are skipped (the 256 <xx>/ directories, their
// <64 hex>-a and -d files, README, trim.txt, testexpire.txt); anything
// else under it (fuzz/ corpora, a stray file) is compared as usual.

// goCacheREADME is the first line of the README Go writes into its build
// cache (cmd/go/internal/cache.initDefaultCache).
const goCacheREADME = "This directory holds cached build artifacts from the Go build system."

// goCacheEntryRE matches a path inside a Go build cache that belongs to
// the cache's layout (cmd/go/internal/cache: fileName, Trim, testexpire).
var goCacheEntryRE = regexp.MustCompile(`^(README|trim\.txt|testexpire\.txt|[0-9a-f]{2}|[0-9a-f]{2}/[0-9a-f]{64}-[ad])$`)

// goCaches lists the Go build cache directories in a snapshot of the tree
// at root (slash-separated, relative to root; "." for the root itself).
// Errors name the README that could not be read.
func goCaches(root string, s *treehash.Snapshot) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	var out []string
	for _, e := range s.Entries {
		if e.Type != "f" || path.Base(e.Path) != "README" {
			continue
		}
		p := root
		if e.Path != "." {
			p = filepath.Join(root, filepath.FromSlash(e.Path))
		}
		ok, err := isGoCacheREADME(p)
		if err != nil {
			return nil, fmt.Errorf("compare %s: %w", root, err)
		}
		if ok {
			out = append(out, path.Dir(e.Path))
		}
	}
	return out, nil
}

// isGoCacheREADME reports whether the file at p starts with Go's line.
func isGoCacheREADME(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(goCacheREADME))
	if _, err := io.ReadFull(f, head); err != nil {
		return false, nil // shorter: not Go's
	}
	return bytes.Equal(head, []byte(goCacheREADME)), nil
}

// cacheSkip is the set of Go build caches found in either tree, and the
// files each side holds in them (cache → path → digest), to count them
// and say how many differ.
type cacheSkip struct {
	dirs     []string // relative, sorted
	inA, inB map[string]map[string]string
}

// newCacheSkip finds the Go build caches of both trees.
func newCacheSkip(a, b string, sa, sb *treehash.Snapshot) (*cacheSkip, error) {
	ca, err := goCaches(a, sa)
	if err != nil {
		return nil, err
	}
	cb, err := goCaches(b, sb)
	if err != nil {
		return nil, err
	}
	c := &cacheSkip{inA: map[string]map[string]string{}, inB: map[string]map[string]string{}}
	seen := map[string]bool{}
	for _, d := range append(ca, cb...) {
		if !seen[d] {
			seen[d] = true
			c.dirs = append(c.dirs, d)
		}
	}
	sort.Strings(c.dirs)
	return c, nil
}

// skips reports whether rel (a path of either tree) is part of a Go build
// cache's layout, counting it for that side's total when it is a file.
func (c *cacheSkip) skips(rel string, e treehash.Entry, inA bool) bool {
	for _, d := range c.dirs {
		var inner string
		switch {
		case d == ".":
			inner = rel
		case strings.HasPrefix(rel, d+"/"):
			inner = rel[len(d)+1:]
		default:
			continue
		}
		if inner == "." || !goCacheEntryRE.MatchString(inner) {
			return false
		}
		if e.Type == "f" {
			side := c.inB
			if inA {
				side = c.inA
			}
			if side[d] == nil {
				side[d] = map[string]string{}
			}
			side[d][rel] = e.Digest
		}
		return true
	}
	return false
}

// notes says, per cache, what was not compared, with the path in tree a:
// "<path>: not compared: Go build cache, N files (rebuilt: M; K differ,
// as a cache's do)". K is said so that the skip is seen to matter.
func (c *cacheSkip) notes(name func(rel string) string) []string {
	var out []string
	for _, d := range c.dirs {
		a, b := c.inA[d], c.inB[d]
		differ := 0
		for rel, sum := range a {
			if other, ok := b[rel]; !ok || other != sum {
				differ++
			}
		}
		for rel := range b {
			if _, ok := a[rel]; !ok {
				differ++
			}
		}
		out = append(out, fmt.Sprintf("%s: not compared: Go build cache, %s (rebuilt: %d; %d differ, as a cache's do)", name(d), files(len(a)), len(b), differ))
	}
	return out
}
