// Package gitsrc implements sources of kind git. Each repository URL gets
// one bare repository in the cache, <cache>/git/<sha256 of the URL>, into
// which a pin fetches only what it needs: the pinned commit at depth 1
// when the server allows it (see job.run for the fallbacks). The fetch runs
// the git command when it is installed, and go-git otherwise, so that a
// porter's board needs no git. A repository is locked (flock) while a run
// fetches into it, and repaired before the next fetch if a run was killed
// midway. Materialize writes exactly the pinned commit's tree into dest,
// read by go-git from the cache, without a .git directory: the tree is a
// build input, not a clone to work in. File mtimes are the time of
// checkout, as with git itself.
package gitsrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

// Options configure a Fetcher.
type Options struct {
	// CacheDir is the cache root; repositories go to <CacheDir>/git/.
	CacheDir string
	// Mirrors are local directories or http(s)/file URLs tried before a
	// repository's own URL, by the URL's path: with the mirror
	// https://m/git, https://host/org/repo.git is looked for at
	// https://m/git/org/repo.git.
	Mirrors []string
	// Offline forbids fetching; a commit missing from the cache is an error
	// wrapping fetch.ErrMissingOffline.
	Offline bool
	// Git is the git command to fetch with: "" looks for git on PATH,
	// "none" fetches with go-git.
	Git string
}

// Fetcher fetches and checks out git sources; it implements source.Fetcher.
type Fetcher struct {
	opts Options
	t    gitTransport
}

var _ source.Fetcher = (*Fetcher)(nil)

// New returns a Fetcher.
func New(opts Options) *Fetcher {
	return &Fetcher{opts: opts, t: pickTransport(opts.Git)}
}

// pickTransport prefers the git command: go-git holds much of a pack in
// memory while it indexes it (docs/how-it-works.md, "Git sources").
func pickTransport(gitCmd string) gitTransport {
	if gitCmd == "none" {
		return goGitTransport{}
	}
	if gitCmd == "" {
		gitCmd = "git"
	}
	if p, err := exec.LookPath(gitCmd); err == nil {
		return cliTransport{git: p}
	}
	return goGitTransport{}
}

// RepoPath is the bare repository that caches url under cacheDir.
func RepoPath(cacheDir, url string) string {
	h := sha256.Sum256([]byte(url))
	return filepath.Join(cacheDir, "git", hex.EncodeToString(h[:]))
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

// resolveRef finds ref (a tag, a branch or a full ref name) in repo and
// returns its full name and the commit it names (annotated tags peeled).
func resolveRef(repo *git.Repository, ref string) (string, plumbing.Hash, error) {
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
			return "", plumbing.ZeroHash, fmt.Errorf("ref %s: %w", ref, err)
		}
		return n, c.Hash, nil
	}
	return "", plumbing.ZeroHash, plumbing.ErrReferenceNotFound
}

// Resolve returns the commit that ref (a branch, tag or full ref name;
// annotated tags are peeled) names in the repository at url: asked of the
// server (mirrors first), or of the cache when offline. For `bootstrap pin`.
func (f *Fetcher) Resolve(ctx context.Context, url, ref string, log io.Writer) (string, error) {
	if f.opts.Offline {
		repo, err := git.PlainOpen(RepoPath(f.opts.CacheDir, url))
		if err == nil {
			_, h, err := resolveRef(repo, ref)
			if err == nil {
				return h.String(), nil
			}
		}
		return "", fmt.Errorf("git %s: ref %s is not in the cache: %w", url, ref, fetch.ErrMissingOffline)
	}
	var last error
	for _, u := range f.candidates(url) {
		refs, err := f.t.lsRemote(ctx, u)
		if err != nil {
			fmt.Fprintf(orDiscard(log), "git: %s: %v\n", u, err)
			last = fmt.Errorf("git %s: %w", u, err)
			continue
		}
		if name, h := lookupRef(refs, ref); name != "" {
			return h.String(), nil
		}
		last = fmt.Errorf("git %s: ref %s not found (no such tag or branch)", u, ref)
	}
	return "", last
}

func validCommit(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Fetch makes sure the cache holds src.Commit (and, with src.Submodules,
// every submodule commit it needs), fetching only when it is missing, and
// checks that src.Ref, when given, agrees with it (a tag must name it).
// Errors name the repository URL.
func (f *Fetcher) Fetch(ctx context.Context, src plan.Source, log io.Writer) error {
	log = orDiscard(log)
	commit, err := f.fetchCommit(ctx, src.Repo, src.Commit, src.Ref, log)
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

// fetchCommit returns the commit object pinned by commit in url's cache,
// fetching it first if it is not there.
func (f *Fetcher) fetchCommit(ctx context.Context, url, commit, ref string, log io.Writer) (*object.Commit, error) {
	return f.fetchFrom(ctx, url, commit, ref, nil, log)
}

// fetchFrom is fetchCommit from the given places (URLs or file:// paths)
// instead of url's mirrors and url itself; from is used even offline,
// since it names repositories on this machine.
func (f *Fetcher) fetchFrom(ctx context.Context, url, commit, ref string, from []string, log io.Writer) (*object.Commit, error) {
	if !validCommit(commit) {
		return nil, fmt.Errorf("git %s: commit %q is not a full 40-digit lowercase hash", url, commit)
	}
	path := RepoPath(f.opts.CacheDir, url)
	lock, err := lockRepo(ctx, path, true, log)
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", url, err)
	}
	defer lock.Close()
	repo, err := openRepo(path)
	if err != nil {
		return nil, fmt.Errorf("git cache for %s (%s): %w", url, path, err)
	}
	j := &job{t: f.t, repo: repo, path: path, lock: lock, commit: plumbing.NewHash(commit), ref: ref, log: log}
	if c, err := peel(repo, j.commit); err == nil {
		if err := j.checkRef(ctx, url, !f.opts.Offline, c); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "git: %s at %s (cached)\n", url, c.Hash)
		return c, nil
	}
	if from == nil && f.opts.Offline {
		return nil, fmt.Errorf("git %s: commit %s is not in the cache: %w", url, commit, fetch.ErrMissingOffline)
	}
	if from == nil {
		from = f.candidates(url)
	}
	var errs []error
	for _, u := range from {
		err := j.run(ctx, u)
		var mismatch *RefMismatchError
		if errors.As(err, &mismatch) || ctx.Err() != nil {
			return nil, err
		}
		if err == nil {
			break
		}
		fmt.Fprintf(log, "git: %v\n", err)
		errs = append(errs, err)
	}
	c, err := peel(j.repo, j.commit)
	if err != nil {
		return nil, fmt.Errorf("git %s: commit %s: %w", url, commit, errors.Join(errs...))
	}
	if err := j.repo.Storer.SetReference(plumbing.NewHashReference(pinRef(j.commit), j.commit)); err != nil {
		return nil, fmt.Errorf("git cache for %s: %w", url, err)
	}
	fmt.Fprintf(log, "git: %s at %s\n", url, c.Hash)
	return c, nil
}

// candidates lists where url's repository may be fetched from: each
// mirror by the URL's path, then url itself. Local mirror directories are
// listed only when the repository is there.
func (f *Fetcher) candidates(raw string) []string {
	var cs []string
	u, err := url.Parse(raw)
	if err == nil && u.Path != "" {
		for _, m := range f.opts.Mirrors {
			switch {
			case strings.HasPrefix(m, "http://"), strings.HasPrefix(m, "https://"):
				cs = append(cs, strings.TrimRight(m, "/")+u.Path)
			default:
				dir := strings.TrimPrefix(m, "file://")
				p := filepath.Join(dir, filepath.FromSlash(u.Path))
				if _, err := os.Stat(p); err == nil {
					cs = append(cs, "file://"+p)
				}
			}
		}
	}
	return append(cs, raw)
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

// checkoutLocked checks src.Commit out into dest under a shared lock of
// its repository. A repository the checkout cannot read (a damaged object,
// pack or ref) is removed under the exclusive lock and fetched again, once,
// unless offline: then the error names the repository's path and says to
// fetch it again.
func (f *Fetcher) checkoutLocked(ctx context.Context, src plan.Source, dest string, log io.Writer) (*object.Commit, error) {
	log = orDiscard(log)
	repoPath := RepoPath(f.opts.CacheDir, src.Repo)
	if _, err := os.Stat(repoPath); err != nil {
		if f.opts.Offline {
			return nil, fmt.Errorf("git %s: not in the cache: %w", src.Repo, fetch.ErrMissingOffline)
		}
		return nil, fmt.Errorf("git %s: not in the cache (fetch it first): %w", src.Repo, err)
	}
	c, err := f.checkoutShared(ctx, repoPath, src, dest, log)
	if err == nil || ctx.Err() != nil {
		return c, err
	}
	if f.opts.Offline {
		return nil, fmt.Errorf("git %s: the cached repository %s is damaged or lacks commit %s (%w); run online to fetch it again: %w",
			src.Repo, repoPath, src.Commit, err, fetch.ErrMissingOffline)
	}
	fmt.Fprintf(log, "git: the cached repository %s of %s is damaged (%v); removing it and fetching again\n", repoPath, src.Repo, err)
	emptyDest(dest)
	lock, err := lockRepo(ctx, repoPath, true, log)
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", src.Repo, err)
	}
	err = os.RemoveAll(repoPath)
	lock.Close()
	if err != nil {
		return nil, fmt.Errorf("git %s: remove damaged cache %s: %w", src.Repo, repoPath, err)
	}
	if _, err := f.fetchCommit(ctx, src.Repo, src.Commit, src.Ref, log); err != nil {
		return nil, err
	}
	return f.checkoutShared(ctx, repoPath, src, dest, log)
}

// checkoutShared checks src.Commit out of the repository at repoPath
// under its shared lock: with `git archive` when git is installed, else
// with go-git.
func (f *Fetcher) checkoutShared(ctx context.Context, repoPath string, src plan.Source, dest string, log io.Writer) (*object.Commit, error) {
	lock, err := lockRepo(ctx, repoPath, false, log)
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", src.Repo, err)
	}
	defer lock.Close()
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		return nil, fmt.Errorf("git %s: open cache %s: %w", src.Repo, repoPath, err)
	}
	c, err := peel(repo, plumbing.NewHash(src.Commit))
	if err != nil {
		return nil, fmt.Errorf("git %s: commit %s: %w", src.Repo, src.Commit, err)
	}
	if cli, ok := f.t.(cliTransport); ok {
		err = archiveCheckout(ctx, cli.git, repoPath, c.Hash.String(), dest)
	} else {
		err = checkout(ctx, repoPath, c, dest)
	}
	if err != nil {
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
