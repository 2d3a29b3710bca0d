package patchwork

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/utils/merkletrie"

	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
)

// Save writes every commit after AppliedTag up to HEAD of workTree into
// outDir as NNNN-subject.patch (git format-patch style, numbered from
// startNumber, in commit order), moves AppliedTag to HEAD, and returns the
// files' paths. It returns an error, writing nothing, when HEAD does not
// descend from AppliedTag along first parents (the applied patches were
// rewritten) or a commit is a merge.
func Save(ctx context.Context, workTree, outDir string, startNumber int) ([]string, error) {
	repo, err := git.PlainOpen(workTree)
	if err != nil {
		return nil, fmt.Errorf("open work tree %s: %w", workTree, err)
	}
	commits, err := newCommits(repo)
	if err != nil {
		return nil, fmt.Errorf("work tree %s: %w", workTree, err)
	}
	var files []string
	for i, c := range commits {
		if err := ctx.Err(); err != nil {
			return files, err
		}
		text, err := formatPatch(c)
		if err != nil {
			return files, fmt.Errorf("format commit %s: %w", c.Hash, err)
		}
		name := fmt.Sprintf("%04d-%s.patch", startNumber+i, slug(c.Message))
		out := filepath.Join(outDir, name)
		if err := atomicfile.Write(out, text, 0o644); err != nil {
			return files, err
		}
		files = append(files, out)
	}
	if len(commits) > 0 {
		head := commits[len(commits)-1].Hash
		if err := repo.DeleteTag(AppliedTag); err != nil {
			return files, fmt.Errorf("move tag %s: %w", AppliedTag, err)
		}
		if _, err := repo.CreateTag(AppliedTag, head, nil); err != nil {
			return files, fmt.Errorf("move tag %s: %w", AppliedTag, err)
		}
	}
	return files, nil
}

// newCommits lists the commits after AppliedTag up to HEAD, oldest first.
func newCommits(repo *git.Repository) ([]*object.Commit, error) {
	tag, err := repo.Tag(AppliedTag)
	if err != nil {
		return nil, fmt.Errorf("tag %s (was the work tree made by bootstrap patch edit?): %w", AppliedTag, err)
	}
	head, err := repo.Head()
	if err != nil {
		return nil, err
	}
	var list []*object.Commit
	for h := head.Hash(); h != tag.Hash(); {
		c, err := repo.CommitObject(h)
		if err != nil {
			return nil, err
		}
		switch len(c.ParentHashes) {
		case 0:
			return nil, fmt.Errorf("HEAD does not descend from %s: the patches already in the recipe were rewritten; commit changes on top of them instead", AppliedTag)
		case 1:
		default:
			return nil, fmt.Errorf("commit %s is a merge; rebase to a linear history first", c.Hash)
		}
		list = append(list, c)
		h = c.ParentHashes[0]
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list, nil
}

// formatPatch writes a commit as git format-patch does: mail header, the
// message, a "---" line, then a git diff (binary files as literal GIT
// binary patches, so they round-trip).
func formatPatch(c *object.Commit) ([]byte, error) {
	parent, err := c.Parent(0)
	if err != nil {
		return nil, err
	}
	from, err := parent.Tree()
	if err != nil {
		return nil, err
	}
	to, err := c.Tree()
	if err != nil {
		return nil, err
	}
	changes, err := object.DiffTree(from, to)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	title, body, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
	fmt.Fprintf(&b, "From %s Mon Sep 17 00:00:00 2001\n", c.Hash)
	fmt.Fprintf(&b, "From: %s <%s>\n", c.Author.Name, c.Author.Email)
	fmt.Fprintf(&b, "Date: %s\n", c.Author.When.Format("Mon, 2 Jan 2006 15:04:05 -0700"))
	fmt.Fprintf(&b, "Subject: [PATCH] %s\n\n", strings.TrimSpace(title))
	if body = strings.TrimSpace(body); body != "" {
		b.WriteString(body + "\n")
	}
	b.WriteString("---\n\n")
	for _, ch := range changes {
		f, err := fileDiff(ch)
		if err != nil {
			return nil, err
		}
		b.WriteString(f.String())
	}
	b.WriteString("-- \nbootstrap\n\n")
	return b.Bytes(), nil
}

// fileDiff describes one changed path as a gitdiff.File.
func fileDiff(ch *object.Change) (*gitdiff.File, error) {
	action, err := ch.Action()
	if err != nil {
		return nil, err
	}
	f := &gitdiff.File{}
	var oldData, newData []byte
	if action != merkletrie.Insert {
		f.OldName, f.OldMode = ch.From.Name, gitFileMode(ch.From.TreeEntry.Mode)
		if oldData, err = blob(ch.From); err != nil {
			return nil, err
		}
	}
	if action != merkletrie.Delete {
		f.NewName, f.NewMode = ch.To.Name, gitFileMode(ch.To.TreeEntry.Mode)
		if newData, err = blob(ch.To); err != nil {
			return nil, err
		}
	}
	f.IsNew, f.IsDelete = action == merkletrie.Insert, action == merkletrie.Delete
	f.OldOIDPrefix, f.NewOIDPrefix = abbrev(ch.From.TreeEntry.Hash), abbrev(ch.To.TreeEntry.Hash)
	if f.OldMode == f.NewMode && !f.IsNew && !f.IsDelete {
		// format as "index a..b 100644", without an old/new mode pair
		f.NewMode = 0
	}
	if isBinary(oldData) || isBinary(newData) {
		f.IsBinary = true
		if !bytes.Equal(oldData, newData) {
			f.BinaryFragment = literal(newData)
			if !f.IsNew {
				f.ReverseBinaryFragment = literal(oldData)
			}
		}
		if f.IsNew || f.IsDelete {
			f.OldOIDPrefix, f.NewOIDPrefix = fullOrZero(ch.From.TreeEntry.Hash), fullOrZero(ch.To.TreeEntry.Hash)
		} else {
			f.OldOIDPrefix, f.NewOIDPrefix = ch.From.TreeEntry.Hash.String(), ch.To.TreeEntry.Hash.String()
		}
		return f, nil
	}
	f.TextFragments = fragments(string(oldData), string(newData))
	return f, nil
}

// gitFileMode maps a tree entry mode to gitdiff's, which holds the octal
// number git diff prints (0o100644), not Go's permission bits.
func gitFileMode(m filemode.FileMode) os.FileMode { return os.FileMode(m) }

func blob(e object.ChangeEntry) ([]byte, error) {
	if e.Tree == nil {
		return nil, nil
	}
	f, err := e.Tree.TreeEntryFile(&e.TreeEntry)
	if err != nil {
		return nil, err
	}
	s, err := f.Contents()
	return []byte(s), err
}

func abbrev(h plumbing.Hash) string { return h.String()[:7] }

func fullOrZero(h plumbing.Hash) string { return h.String() }

// isBinary uses git's rule: a NUL byte in the first 8000 bytes.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0
}

// literal makes a literal binary fragment holding data.
func literal(data []byte) *gitdiff.BinaryFragment {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(data)
	w.Close()
	return &gitdiff.BinaryFragment{Method: gitdiff.BinaryPatchLiteral, Size: int64(len(data)), RawData: z.Bytes()}
}

// slug turns a commit subject into a file name part as format-patch does:
// runs of other characters become '-', at most 52 characters.
func slug(msg string) string {
	title, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	var b strings.Builder
	dash := false
	for _, r := range title {
		if r < 128 && (r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-.")
	if len(s) > 52 {
		s = strings.TrimRight(s[:52], "-.")
	}
	if s == "" {
		s = "patch"
	}
	return s
}
