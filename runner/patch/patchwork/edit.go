// Package patchwork is the patch round trip, like devtool modify/finish or
// quilt: Edit turns an unpacked, unpatched source tree and its patch set
// into a git work tree with one commit per patch; the porter edits and
// commits there with any git tool; Save writes each new commit back out as
// a numbered git format-patch file that patch.Apply accepts, and
// UpdateSeries lists them in a quilt series file.
//
// The work tree carries two lightweight tags. BaseTag marks the commit of
// the unpatched source; AppliedTag marks the last commit whose patch is
// already in the recipe. Save exports only the commits after AppliedTag
// and then moves the tag to HEAD, so running it twice writes nothing twice.
// Existing patches are never rewritten by Save (they may live inside the
// fetched source, as Debian's do): to change one, commit the fix on top and
// it becomes a new patch.
//
// runner/patch/workflow drives this package for `bootstrap patch edit` and
// `patch save`: it unpacks the component's sources unpatched, as the patch
// step does, for Edit; picks the series file and the first number for
// Save; and adds the series to the recipe. After a save the component's
// patch step is stale (the patch content is in its signature) and the
// next run re-applies everything from a fresh tree.
package patchwork

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/patch"
)

// The tags Edit creates in the work tree.
const (
	BaseTag    = "bootstrap/base"
	AppliedTag = "bootstrap/applied"
)

// defaultAuthor signs commits whose patch names no author.
func defaultAuthor() object.Signature {
	return object.Signature{Name: "bootstrap", Email: "bootstrap@localhost"}
}

// Edit copies the unpatched source tree to workTree (which must not exist
// or be empty), makes it a git repository with a base commit, and applies
// each patch of patches in order, one commit per patch file. It returns the
// first error, which names the patch (a *patch.HunkError and the like).
func Edit(ctx context.Context, tree, workTree string, patches []plan.Patch) error {
	if ents, err := os.ReadDir(workTree); err == nil && len(ents) > 0 {
		return fmt.Errorf("work tree %s exists and is not empty", workTree)
	}
	if err := copyTree(tree, workTree); err != nil {
		return fmt.Errorf("copy %s to %s: %w", tree, workTree, err)
	}
	repo, err := git.PlainInit(workTree, false)
	if err != nil {
		return fmt.Errorf("git init %s: %w", workTree, err)
	}
	wt := &workTreeRepo{dir: workTree, repo: repo}
	if err := wt.stageAll(); err != nil {
		return err
	}
	base, err := wt.commit("Unpacked source, no patches\n", defaultAuthor(), time.Now())
	if err != nil {
		return err
	}
	if _, err := repo.CreateTag(BaseTag, base, nil); err != nil {
		return fmt.Errorf("tag %s: %w", BaseTag, err)
	}
	head := base
	for _, p := range patches {
		entries, err := patch.Entries(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if head, err = wt.applyAndCommit(ctx, e, p.Fuzz); err != nil {
				return err
			}
		}
	}
	if _, err := repo.CreateTag(AppliedTag, head, nil); err != nil {
		return fmt.Errorf("tag %s: %w", AppliedTag, err)
	}
	return nil
}

// workTreeRepo is the repository Edit builds.
type workTreeRepo struct {
	dir  string
	repo *git.Repository
}

// applyAndCommit applies one patch file and commits what it changed.
func (w *workTreeRepo) applyAndCommit(ctx context.Context, e patch.Entry, fuzz int) (plumbing.Hash, error) {
	rec, err := patch.Apply(ctx, w.dir, plan.Patch{File: e.File, Strip: e.Strip, Fuzz: fuzz}, io.Discard)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var paths []string
	for _, pr := range rec.Patches {
		for _, f := range pr.Files {
			paths = append(paths, f.Path)
			if f.OldPath != "" {
				paths = append(paths, f.OldPath)
			}
		}
	}
	if err := w.stage(paths); err != nil {
		return plumbing.ZeroHash, err
	}
	msg, author, when, err := describe(e.File)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return w.commit(msg, author, when)
}

// stageAll puts every file of the work tree into the index. It writes the
// index itself rather than using git add, which would skip files matched
// by the source's own .gitignore files and is slow on large trees.
func (w *workTreeRepo) stageAll() error {
	var paths []string
	err := filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.dir, p)
		if rel == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", w.dir, err)
	}
	return w.stage(paths)
}

// stage updates the index entries of paths from the work tree: present
// files are (re)hashed, missing ones removed.
func (w *workTreeRepo) stage(paths []string) error {
	idx, err := w.repo.Storer.Index()
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	for _, name := range paths {
		if _, err := idx.Remove(name); err != nil && !errors.Is(err, index.ErrEntryNotFound) {
			return fmt.Errorf("index %s: %w", name, err)
		}
		e, err := w.entry(name)
		if err != nil {
			return err
		}
		if e != nil {
			idx.Entries = append(idx.Entries, e)
		}
	}
	if err := w.repo.Storer.SetIndex(idx); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}

// entry hashes one work tree file into the object store; nil when the file
// does not exist.
func (w *workTreeRepo) entry(name string) (*index.Entry, error) {
	p := filepath.Join(w.dir, filepath.FromSlash(name))
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var data []byte
	mode := filemode.Regular
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		data, mode = []byte(target), filemode.Symlink
	case info.Mode().IsRegular():
		if data, err = os.ReadFile(p); err != nil {
			return nil, err
		}
		if info.Mode()&0o111 != 0 {
			mode = filemode.Executable
		}
	default:
		return nil, nil
	}
	h, err := w.writeBlob(data)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", name, err)
	}
	return &index.Entry{Name: name, Hash: h, Mode: mode, Size: uint32(len(data)), ModifiedAt: info.ModTime()}, nil
}

func (w *workTreeRepo) writeBlob(data []byte) (plumbing.Hash, error) {
	obj := w.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	wr, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := wr.Write(data); err != nil {
		wr.Close()
		return plumbing.ZeroHash, err
	}
	if err := wr.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return w.repo.Storer.SetEncodedObject(obj)
}

func (w *workTreeRepo) commit(msg string, author object.Signature, when time.Time) (plumbing.Hash, error) {
	wt, err := w.repo.Worktree()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	author.When = when
	committer := defaultAuthor()
	committer.When = time.Now()
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &author, Committer: &committer, AllowEmptyCommits: true})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("commit in %s: %w", w.dir, err)
	}
	return h, nil
}

// describe makes the commit message, author and date for a patch file from
// its header: a git format-patch mail header, a DEP-3 header
// (Description:/Subject:, Author:/From:), or else the file name.
func describe(file string) (string, object.Signature, time.Time, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", object.Signature{}, time.Time{}, fmt.Errorf("read patch: %w", err)
	}
	defer f.Close()
	_, preamble, _ := gitdiff.Parse(f)
	author, when := defaultAuthor(), time.Now()
	title, body := "", ""
	if h, err := gitdiff.ParsePatchHeader(preamble); err == nil {
		title, body = h.Title, h.Body
		if h.Author != nil && h.Author.Email != "" {
			author = object.Signature{Name: h.Author.Name, Email: h.Author.Email}
		}
		if !h.AuthorDate.IsZero() {
			when = h.AuthorDate
		}
	}
	for _, field := range []string{"Description:", "Subject:"} {
		if rest, ok := strings.CutPrefix(title, field); ok {
			title = strings.TrimSpace(rest)
		}
	}
	if title == "" {
		title = nameSubject(path.Base(filepath.ToSlash(file)))
	}
	msg := title + "\n"
	if body != "" {
		msg += "\n" + strings.TrimRight(body, "\n") + "\n"
	}
	msg += "\nPatch-File: " + filepath.Base(file) + "\n"
	return msg, author, when, nil
}

// nameSubject turns "0003-fix-the-build.patch" into "fix the build".
func nameSubject(name string) string {
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".patch"), ".diff")
	if len(name) > 5 && name[4] == '-' && strings.Trim(name[:4], "0123456789") == "" {
		name = name[5:]
	}
	return strings.ReplaceAll(name, "-", " ")
}

// copyTree copies regular files (with their permissions), directories and
// symlinks from src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, data, info.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(to, info.Mode().Perm())
		}
		return nil
	})
}
