package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/porterkit/bootstrap/runner/progress"
)

// SweepAge is how old a temporary file must be before a run removes it:
// older than any download or step still in progress in another run
// sharing the cache (whose files it keeps writing, so their mtime moves).
const SweepAge = 24 * time.Hour

// sweepTemps removes what killed runs left in the cache and the work dir
// when it is older than SweepAge at now, and
// says how much it removed. It is called at the start of a run that will
// do work, under the work dir's lock. What cannot be removed (a read-only
// cache) is left alone: it is only wasted space.
func sweepTemps(workDir, cacheDir string, now time.Time, pr progress.Printer) {
	// The temporary files and directories that a run killed midway leaves
	// behind, as globs relative to the cache and to the work dir. Each is
	// renamed into place or removed by a run that finishes, so one that
	// stays was left by a run that did not.
	cacheTemps := []string{
		"tmp/dl-*",              // fetch: a download being copied or written
		"partial/gomod-*.zip",   // gomod: a module zip being downloaded
		"svn/*.tmp", "hg/*.tmp", // vcs: a checkout or clone not yet renamed
		"git/*.init", // gitsrc: a repository being created
	}
	workTemps := []string{
		"state/*.tmp-*", "state/*/*.tmp-*", "state/*/*/*.tmp-*", // atomicfile (a Glob * matches a leading dot)
		"src/.export-*",   // vcs: an svn or hg export being checked
		"src/.*.unpack-*", // patch workflow: an unpatched tree
	}
	var n int
	var bytes int64
	sweep := func(root string, patterns []string) {
		if root == "" {
			return
		}
		for _, pat := range patterns {
			matches, _ := filepath.Glob(filepath.Join(root, pat))
			for _, m := range matches {
				fi, err := os.Lstat(m)
				if err != nil || now.Sub(fi.ModTime()) < SweepAge {
					continue
				}
				size := treeSize(m)
				if os.RemoveAll(m) == nil {
					n++
					bytes += size
				}
			}
		}
	}
	sweep(cacheDir, cacheTemps)
	sweep(workDir, workTemps)
	if n > 0 {
		pr.Printf("removed %d temporary file(s) (%d bytes) older than %v, left by interrupted runs", n, bytes, SweepAge)
	}
}

// treeSize is the size of the files at p, a file or a directory.
func treeSize(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
