package gitsrc

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// allRefSpecs mirror every branch and tag: the last resort, when neither
// the commit nor the recipe's ref can be fetched on their own.
var allRefSpecs = []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}

// pinRef is the ref that keeps a fetched pin in the cache: it roots the
// commit (no gc can drop it) and makes it a "have" for later fetches, so
// that the next pin of the same URL fetches only the difference.
func pinRef(commit plumbing.Hash) plumbing.ReferenceName {
	return plumbing.ReferenceName("refs/pins/" + commit.String())
}

// RefMismatchError says that the recipe's ref names another commit than
// the one it pins. Only a tag is held to its commit: a branch moves on.
type RefMismatchError struct {
	URL, Ref    string
	Got, Pinned plumbing.Hash
}

func (e *RefMismatchError) Error() string {
	return fmt.Sprintf("git %s: ref %s is commit %s, but the recipe pins commit %s", e.URL, e.Ref, e.Got, e.Pinned)
}

// job is the fetch of one pinned commit into one cached repository.
type job struct {
	t      gitTransport
	repo   *git.Repository
	path   string
	lock   *os.File
	commit plumbing.Hash
	ref    string // the recipe's ref, or ""
	log    io.Writer
}

// fetch runs req from url, then opens the repository afresh: go-git
// reads the list of packs once.
func (j *job) fetch(ctx context.Context, url string, req fetchRequest) error {
	if err := j.t.fetch(ctx, j.path, url, req, j.lock, j.log); err != nil {
		return err
	}
	repo, err := git.PlainOpen(j.path)
	if err != nil {
		return err
	}
	j.repo = repo
	return nil
}

// has says whether the commit is in the repository.
func (j *job) has() bool {
	_, err := peel(j.repo, j.commit)
	return err == nil
}

// run fetches the pinned commit from url, asking for as little as it can:
//  1. depth 1 of a ref whose tip is the commit (any server allows that);
//  2. depth 1 of the commit by its hash (protocol v2, or a v0 server with
//     uploadpack.allowReachableSHA1InWant);
//  3. the recipe's ref, deepened until the commit appears;
//  4. every branch and tag with their whole history, saying why in log.
//
// It returns an error when the commit is still missing, or when the
// recipe's tag names another commit.
func (j *job) run(ctx context.Context, url string) error {
	refs, err := j.t.lsRemote(ctx, url)
	if err != nil {
		return fmt.Errorf("list the refs of %s: %w", url, err)
	}
	refName, refCommit := lookupRef(refs, j.ref)
	if refName != "" && refs[refName] == j.commit {
		refCommit = j.commit // the pin is the annotated tag itself
	}
	if j.ref != "" {
		if refName == "" {
			return fmt.Errorf("git %s: ref %s not found (no such tag or branch)", url, j.ref)
		}
		if refCommit != j.commit && strings.HasPrefix(refName, "refs/tags/") {
			return &RefMismatchError{URL: url, Ref: j.ref, Got: refCommit, Pinned: j.commit}
		}
		if refCommit != j.commit {
			fmt.Fprintf(j.log, "git: %s is at %s now, not at the pinned commit\n", refName, refCommit)
		}
	}
	if tip := tipRef(refs, refName, j.commit); tip != "" {
		fmt.Fprintf(j.log, "git: fetching %s (%s, depth 1) from %s with %s\n", j.commit, tip, url, j.t.name())
		if err := j.fetch(ctx, url, fetchRequest{specs: []string{"+" + tip + ":" + tip}, depth: 1}); err != nil {
			return err
		}
		if j.has() {
			return nil
		}
	}
	fmt.Fprintf(j.log, "git: fetching %s (depth 1) from %s with %s\n", j.commit, url, j.t.name())
	spec := fmt.Sprintf("+%s:%s", j.commit, pinRef(j.commit))
	err = j.fetch(ctx, url, fetchRequest{specs: []string{spec}, depth: 1})
	if err == nil && j.has() {
		return nil
	}
	reason := "the commit did not come"
	if err != nil {
		reason = err.Error()
	}
	if refName != "" {
		fmt.Fprintf(j.log, "git: %s; fetching %s instead, deepening until the commit appears\n", reason, refName)
		found, err := j.deepen(ctx, url, refName, refCommit)
		if err != nil || found {
			return err
		}
		reason = fmt.Sprintf("the commit is not in the history of %s", refName)
	}
	fmt.Fprintf(j.log, "git: fetching the full history of %s: %s\n", url, reason)
	if err := j.fetch(ctx, url, fetchRequest{specs: allRefSpecs}); err != nil {
		return err
	}
	if !j.has() {
		return fmt.Errorf("git %s: commit %s not found on any branch or tag", url, j.commit)
	}
	return nil
}

// deepen fetches refName with depth 1, 8, 64… until the commit is in the
// repository or the whole history of tip is.
func (j *job) deepen(ctx context.Context, url, refName string, tip plumbing.Hash) (bool, error) {
	for depth := 1; depth < fullDepth/8; depth *= 8 {
		req := fetchRequest{specs: []string{"+" + refName + ":" + refName}, depth: depth}
		if err := j.fetch(ctx, url, req); err != nil {
			return false, err
		}
		if j.has() {
			return true, nil
		}
		if n := countCommits(j.repo, tip, depth); n < depth {
			return false, nil // all of the ref's history is here
		}
		fmt.Fprintf(j.log, "git: not in the last %d commits of %s\n", depth, refName)
	}
	return false, nil
}

// countCommits counts the commits reachable from tip that the repository
// holds, up to limit: it stops at the shallow boundary like git log.
func countCommits(repo *git.Repository, tip plumbing.Hash, limit int) int {
	seen := map[plumbing.Hash]bool{}
	queue := []plumbing.Hash{tip}
	for len(queue) > 0 && len(seen) < limit {
		h := queue[0]
		queue = queue[1:]
		if seen[h] {
			continue
		}
		c, err := object.GetCommit(repo.Storer, h)
		if err != nil {
			continue // beyond the boundary
		}
		seen[h] = true
		queue = append(queue, c.ParentHashes...)
	}
	return len(seen)
}

// lookupRef finds ref (a tag, a branch or a full ref name, as resolveRef)
// among a server's refs, and returns its full name and the commit it
// names (an annotated tag peeled); "" when ref is empty or absent.
func lookupRef(refs map[string]plumbing.Hash, ref string) (string, plumbing.Hash) {
	if ref == "" {
		return "", plumbing.ZeroHash
	}
	names := []string{"refs/tags/" + ref, "refs/heads/" + ref}
	if strings.HasPrefix(ref, "refs/") {
		names = []string{ref}
	}
	for _, n := range names {
		if h, ok := refs[n]; ok {
			if p, ok := refs[n+"^{}"]; ok {
				h = p
			}
			return n, h
		}
	}
	return "", plumbing.ZeroHash
}

// tipRef returns a ref of the server whose tip is commit: preferred, the
// recipe's, else a branch, else a tag; "" if none is.
func tipRef(refs map[string]plumbing.Hash, preferred string, commit plumbing.Hash) string {
	// A ref names commit if it or its peeled value is commit (an
	// annotated tag may be pinned by its own hash).
	names := func(name string) bool {
		_, h := lookupRef(refs, name)
		return h == commit || refs[name] == commit
	}
	if preferred != "" && names(preferred) {
		return preferred
	}
	best := ""
	for name := range refs {
		base := strings.TrimSuffix(name, "^{}")
		if !names(base) || !strings.HasPrefix(base, "refs/heads/") && !strings.HasPrefix(base, "refs/tags/") {
			continue
		}
		// Branches before tags, then by name, so that the choice is stable.
		if best == "" || rank(base) < rank(best) || rank(base) == rank(best) && base < best {
			best = base
		}
	}
	return best
}

func rank(name string) int {
	if strings.HasPrefix(name, "refs/heads/") {
		return 0
	}
	return 1
}

// checkRef checks, for a commit already in the cache, that the recipe's
// ref agrees with it: against the cached ref, else (online) against the
// server's. A server out of reach is noted in log, not an error: the
// commit, which is what is built, is at hand.
func (j *job) checkRef(ctx context.Context, url string, online bool, pinned *object.Commit) error {
	if j.ref == "" {
		return nil
	}
	if name, h, err := resolveRef(j.repo, j.ref); err == nil {
		return j.agree(url, name, h, pinned.Hash)
	}
	if !online {
		fmt.Fprintf(j.log, "git: ref %s is not in the cache; not checked offline\n", j.ref)
		return nil
	}
	refs, err := j.t.lsRemote(ctx, url)
	if err != nil {
		fmt.Fprintf(j.log, "git: could not check ref %s: %v\n", j.ref, err)
		return nil
	}
	name, h := lookupRef(refs, j.ref)
	if name == "" {
		return fmt.Errorf("git %s: ref %s not found (no such tag or branch)", url, j.ref)
	}
	return j.agree(url, name, h, pinned.Hash)
}

// agree compares got, the commit that the ref refName names, with pinned,
// the pin's commit (an annotated tag pinned by its own hash peeled).
func (j *job) agree(url, refName string, got, pinned plumbing.Hash) error {
	switch {
	case got == pinned:
		return nil
	case strings.HasPrefix(refName, "refs/tags/"):
		return &RefMismatchError{URL: url, Ref: j.ref, Got: got, Pinned: pinned}
	}
	fmt.Fprintf(j.log, "git: %s is at %s, not at the pinned commit\n", j.ref, got)
	return nil
}
