package gitsrc

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// SeedResult is one commit Seed put in the cache.
type SeedResult struct {
	// Commit is the full hash.
	Commit string
	// Refs are the tags and branches of the local repository that name it.
	Refs []string
}

// Seed copies commits from the repository at dir (a clone or a bare
// mirror on this machine) into the cache entry of url, so that a recipe's
// `git: url` with `commit:` is satisfied from the cache, also --offline.
// wants are commits (full hashes) or refs of dir (tags, branches); with
// none, every tag and branch of dir is copied with its whole history. A
// want that dir does not hold is an error naming it, and nothing is
// reported as seeded for it.
//
// A commit that a tag of dir points at is copied with that tag, so the
// recipe's `ref:` can be checked offline against the cache.
func (f *Fetcher) Seed(ctx context.Context, dir, url string, wants []string, log io.Writer) ([]SeedResult, error) {
	log = orDiscard(log)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	local, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: false})
	if err != nil {
		return nil, fmt.Errorf("%s is not a git repository: %w", dir, err)
	}
	src := "file://" + abs
	refs, err := f.t.lsRemote(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("list the refs of %s: %w", dir, err)
	}
	if len(wants) == 0 {
		return f.seedAll(ctx, abs, src, url, refs, log)
	}
	var out []SeedResult
	for _, w := range wants {
		commit, ref, err := resolveWant(local, w)
		if err != nil {
			return out, fmt.Errorf("%s: %w", dir, err)
		}
		if _, err := f.fetchFrom(ctx, url, commit, ref, []string{src}, log); err != nil {
			return out, err
		}
		out = append(out, SeedResult{Commit: commit, Refs: refsNaming(refs, plumbing.NewHash(commit))})
	}
	return out, nil
}

// resolveWant turns a want into a commit hash and, when it was written as
// a ref, that ref (so the fetch brings the ref along).
func resolveWant(repo *git.Repository, want string) (commit, ref string, err error) {
	if validCommit(want) {
		if _, err := peel(repo, plumbing.NewHash(want)); err != nil {
			return "", "", fmt.Errorf("commit %s is not in it: %w", want, err)
		}
		return want, "", nil
	}
	_, h, err := resolveRef(repo, want)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", want, err)
	}
	c, err := peel(repo, h)
	if err != nil {
		return "", "", fmt.Errorf("%s does not name a commit: %w", want, err)
	}
	return c.Hash.String(), want, nil
}

// seedAll copies every branch and tag of the repository at src, with their
// whole history.
func (f *Fetcher) seedAll(ctx context.Context, abs, src, url string, refs map[string]plumbing.Hash, log io.Writer) ([]SeedResult, error) {
	path := RepoPath(f.opts.CacheDir, url)
	lock, err := lockRepo(ctx, path, true, log)
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", url, err)
	}
	defer lock.Close()
	if _, err := openRepo(path); err != nil {
		return nil, fmt.Errorf("git cache for %s (%s): %w", url, path, err)
	}
	fmt.Fprintf(log, "git: copying every branch and tag of %s into the cache of %s\n", abs, url)
	req := fetchRequest{specs: []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}}
	if err := f.t.fetch(ctx, path, src, req, lock, log); err != nil {
		return nil, fmt.Errorf("git %s: copy from %s: %w", url, abs, err)
	}
	seen := map[plumbing.Hash]bool{}
	var out []SeedResult
	for _, h := range refs {
		if names := refsNaming(refs, h); len(names) > 0 && !seen[h] {
			seen[h] = true
			out = append(out, SeedResult{Commit: h.String(), Refs: names})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Refs[0] < out[j].Refs[0] })
	return out, nil
}

// refsNaming lists the branches and tags in refs that name commit.
func refsNaming(refs map[string]plumbing.Hash, commit plumbing.Hash) []string {
	var names []string
	for name, h := range refs {
		base := strings.TrimSuffix(name, "^{}")
		if h != commit || !(strings.HasPrefix(base, "refs/heads/") || strings.HasPrefix(base, "refs/tags/")) {
			continue
		}
		if _, peeled := refs[base+"^{}"]; peeled && name == base {
			continue
		}
		names = appendOnce(names, base)
	}
	sort.Strings(names)
	return names
}

func appendOnce(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}
