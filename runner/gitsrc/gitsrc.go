// Package gitsrc implements sources of kind git through go-git, so a porter
// needs no git binary on the board. Each repository URL gets one bare
// repository in the cache, <cache>/git/<sha256 of the URL>, fetched once
// (every branch and tag) and fetched again only when the pinned commit is not
// in it. Materialize writes exactly the pinned commit's tree into dest,
// without a .git directory: the tree is a build input, not a clone to work
// in. File mtimes are the time of checkout, as with git itself.
package gitsrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/fetch"
	"github.com/porterkit/bootstrap/runner/source"
)

// Options configure a Fetcher.
type Options struct {
	// CacheDir is the cache root; repositories go to <CacheDir>/git/.
	CacheDir string
	// Offline forbids fetching; a commit missing from the cache is an error
	// wrapping fetch.ErrMissingOffline.
	Offline bool
}

// Fetcher fetches and checks out git sources; it implements source.Fetcher.
type Fetcher struct {
	opts Options
}

var _ source.Fetcher = (*Fetcher)(nil)

// New returns a Fetcher.
func New(opts Options) *Fetcher { return &Fetcher{opts: opts} }

// RepoPath is the bare repository that caches url under cacheDir.
func RepoPath(cacheDir, url string) string {
	h := sha256.Sum256([]byte(url))
	return filepath.Join(cacheDir, "git", hex.EncodeToString(h[:]))
}

// fetchRefSpecs mirror every branch and tag, so that any pinned commit
// reachable from them is found with one fetch.
var fetchRefSpecs = []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}

// open opens (creating if needed) the bare repository caching url.
func open(cacheDir, url string) (*git.Repository, error) {
	path := RepoPath(cacheDir, url)
	repo, err := git.PlainOpen(path)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainInit(path, true)
	}
	if err != nil {
		return nil, fmt.Errorf("git cache for %s (%s): %w", url, path, err)
	}
	if _, err := repo.Remote("origin"); errors.Is(err, git.ErrRemoteNotFound) {
		if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}, Fetch: fetchRefSpecs}); err != nil {
			return nil, fmt.Errorf("git cache for %s: %w", url, err)
		}
	}
	return repo, nil
}

// update fetches every branch and tag of url into repo.
func update(ctx context.Context, repo *git.Repository, url string, log io.Writer) error {
	fmt.Fprintf(log, "git: fetching %s\n", url)
	err := repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: fetchRefSpecs, Tags: git.NoTags, Force: true})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("git fetch %s: %w", url, err)
	}
	return nil
}

// peel follows annotated tags from h to the commit they name.
func peel(repo *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		obj, err := repo.Object(plumbing.AnyObject, h)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o, nil
		case *object.Tag:
			h = o.Target
		default:
			return nil, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
		}
	}
	return nil, fmt.Errorf("%s: tag chain too long", h)
}

// resolveRef finds ref (a branch, a tag or a full ref name) in repo and
// peels it to a commit.
func resolveRef(repo *git.Repository, ref string) (plumbing.Hash, error) {
	names := []string{"refs/tags/" + ref, "refs/heads/" + ref}
	if strings.HasPrefix(ref, "refs/") {
		names = []string{ref}
	}
	for _, n := range names {
		r, err := repo.Reference(plumbing.ReferenceName(n), true)
		if err != nil {
			continue
		}
		c, err := peel(repo, r.Hash())
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("ref %s: %w", ref, err)
		}
		return c.Hash, nil
	}
	return plumbing.ZeroHash, plumbing.ErrReferenceNotFound
}

// Resolve returns the commit that ref (a branch, tag or full ref name;
// annotated tags are peeled) names in the repository at url, fetching the
// repository into the cache first unless offline. For `bootstrap pin`.
func Resolve(ctx context.Context, cacheDir, url, ref string, offline bool, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	repo, err := open(cacheDir, url)
	if err != nil {
		return "", err
	}
	if !offline {
		if err := update(ctx, repo, url, log); err != nil {
			return "", err
		}
	}
	h, err := resolveRef(repo, ref)
	if err != nil {
		if offline {
			return "", fmt.Errorf("git %s: ref %s is not in the cache: %w", url, ref, fetch.ErrMissingOffline)
		}
		return "", fmt.Errorf("git %s: ref %s: %w", url, ref, err)
	}
	return h.String(), nil
}

func validCommit(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// Fetch makes sure the cache holds src.Commit (and, with src.Submodules,
// every submodule commit it needs), fetching only when it is missing, and
// checks that src.Ref, when given, names that commit. Errors name the
// repository URL.
func (f *Fetcher) Fetch(ctx context.Context, src plan.Source, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	unlock, err := lockRepo(ctx, f.opts.CacheDir, src.Repo, log)
	if err != nil {
		return err
	}
	commit, err := f.fetchCommit(ctx, src.Repo, src.Commit, src.Ref, log)
	unlock()
	if err != nil {
		return err
	}
	if src.Submodules {
		return f.eachSubmodule(ctx, src.Repo, commit, func(sub plan.Source) error {
			return f.Fetch(ctx, sub, log)
		})
	}
	return nil
}

// fetchCommit returns the commit object pinned by commit in url's cache.
func (f *Fetcher) fetchCommit(ctx context.Context, url, commit, ref string, log io.Writer) (*object.Commit, error) {
	if !validCommit(commit) {
		return nil, fmt.Errorf("git %s: commit %q is not a full 40-digit lowercase hash", url, commit)
	}
	repo, err := open(f.opts.CacheDir, url)
	if err != nil {
		return nil, err
	}
	h := plumbing.NewHash(commit)
	c, err := peel(repo, h)
	fetched := false
	if err != nil {
		if f.opts.Offline {
			return nil, fmt.Errorf("git %s: commit %s is not in the cache: %w", url, commit, fetch.ErrMissingOffline)
		}
		if err := update(ctx, repo, url, log); err != nil {
			return nil, err
		}
		fetched = true
		if c, err = peel(repo, h); err != nil {
			return nil, fmt.Errorf("git %s: commit %s not found on any branch or tag: %w", url, commit, err)
		}
	}
	if ref == "" {
		fmt.Fprintf(log, "git: %s at %s\n", url, c.Hash)
		return c, nil
	}
	got, err := resolveRef(repo, ref)
	if err != nil && !fetched && !f.opts.Offline {
		// A ref added upstream after the cache was filled.
		if err := update(ctx, repo, url, log); err != nil {
			return nil, err
		}
		got, err = resolveRef(repo, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("git %s: ref %s: %w", url, ref, err)
	}
	if got != c.Hash {
		return nil, fmt.Errorf("git %s: ref %s is commit %s, but the recipe pins commit %s", url, ref, got, c.Hash)
	}
	fmt.Fprintf(log, "git: %s %s at %s\n", url, ref, c.Hash)
	return c, nil
}

// Materialize writes the tree of src.Commit (and its submodules, with
// src.Submodules) from the cache into dest. It never fetches; errors name
// the repository URL.
func (f *Fetcher) Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error {
	dest := filepath.Join(tree, src.Dest)
	if !validCommit(src.Commit) {
		return fmt.Errorf("git %s: commit %q is not a full 40-digit lowercase hash", src.Repo, src.Commit)
	}
	c, err := f.checkoutLocked(ctx, src, dest, log)
	if err != nil {
		return err
	}
	if src.Submodules {
		err := f.eachSubmodule(ctx, src.Repo, c, func(sub plan.Source) error {
			// A submodule's dest is relative to its superproject.
			sub.Dest = filepath.Join(src.Dest, filepath.FromSlash(sub.Dest))
			if err := os.MkdirAll(filepath.Join(tree, sub.Dest), 0o755); err != nil {
				return err
			}
			return f.Materialize(ctx, sub, tree, log)
		})
		if err != nil {
			return err
		}
	}
	if log != nil {
		fmt.Fprintf(log, "git: checked out %s %s into %s\n", src.Repo, src.Commit, dest)
	}
	return nil
}

// lockRepo takes the cache lock of url's repository (see fetch.LockEntry),
// so two runs sharing a cache never fetch into one repository at once, nor
// check out of one that the other is re-fetching.
func lockRepo(ctx context.Context, cacheDir, url string, log io.Writer) (func(), error) {
	return fetch.LockEntry(ctx, cacheDir, "git-"+filepath.Base(RepoPath(cacheDir, url)), url, log)
}

// checkoutLocked checks src.Commit out into dest under the repository's
// lock. A repository the checkout cannot read (a damaged object, pack or
// ref) is removed and fetched again, once, unless offline: then the error
// names the repository's path and says to fetch it again.
func (f *Fetcher) checkoutLocked(ctx context.Context, src plan.Source, dest string, log io.Writer) (*object.Commit, error) {
	unlock, err := lockRepo(ctx, f.opts.CacheDir, src.Repo, log)
	if err != nil {
		return nil, err
	}
	defer unlock()
	repoPath := RepoPath(f.opts.CacheDir, src.Repo)
	c, err := checkoutFrom(ctx, repoPath, src, dest)
	if err == nil || ctx.Err() != nil {
		return c, err
	}
	if _, serr := os.Stat(repoPath); serr != nil {
		if f.opts.Offline {
			return nil, fmt.Errorf("git %s: not in the cache: %w", src.Repo, fetch.ErrMissingOffline)
		}
		return nil, fmt.Errorf("git %s: not in the cache (fetch it first): %w", src.Repo, err)
	}
	if f.opts.Offline {
		return nil, fmt.Errorf("git %s: the cached repository %s is damaged or lacks commit %s (%w); run online to fetch it again: %w",
			src.Repo, repoPath, src.Commit, err, fetch.ErrMissingOffline)
	}
	fmt.Fprintf(log, "git: the cached repository %s of %s is damaged (%v); removing it and fetching again\n", repoPath, src.Repo, err)
	emptyDest(dest)
	if err := os.RemoveAll(repoPath); err != nil {
		return nil, fmt.Errorf("git %s: remove damaged cache %s: %w", src.Repo, repoPath, err)
	}
	if _, err := f.fetchCommit(ctx, src.Repo, src.Commit, src.Ref, log); err != nil {
		return nil, err
	}
	return checkoutFrom(ctx, repoPath, src, dest)
}

// checkoutFrom opens the bare repository at repoPath and checks src.Commit
// out into dest.
func checkoutFrom(ctx context.Context, repoPath string, src plan.Source, dest string) (*object.Commit, error) {
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		return nil, fmt.Errorf("git %s: open cache %s: %w", src.Repo, repoPath, err)
	}
	c, err := peel(repo, plumbing.NewHash(src.Commit))
	if err != nil {
		return nil, fmt.Errorf("git %s: commit %s: %w", src.Repo, src.Commit, err)
	}
	if err := checkout(ctx, repoPath, c, dest); err != nil {
		return nil, fmt.Errorf("git %s: checkout %s: %w", src.Repo, src.Commit, err)
	}
	return c, nil
}

// emptyDest removes what a failed checkout left in dest, keeping dest.
func emptyDest(dest string) {
	ents, _ := os.ReadDir(dest)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dest, e.Name()))
	}
}
