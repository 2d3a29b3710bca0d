package remote

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
	"github.com/porterkit/bootstrap/runner/source/gitsrc"
)

// cacheItem is a file of the cache a board needs: content-addressed
// (sha256/<sum>), and for a Go module the index file that names it
// (gomod/<module>/@v/<version>.zip.sha256, "<sum> <h1>").
type cacheItem struct {
	name       string
	sum        string
	index      string // relative to the cache, slash-separated; "" for url
	indexBytes []byte
}

// sendSources puts into the board's cache the url and gomod sources of
// the selected steps that it does not hold, filling this machine's cache
// first when needed (the board may have no network).
func (b *boardRun) sendSources(ctx context.Context, c *Client, s *runner.Session) error {
	p := s.Plan()
	sel, err := b.cfg.Selection.Selected(p)
	if err != nil {
		return err
	}
	cache, err := runner.CacheDir(b.cfg.Cache)
	if err != nil {
		return err
	}
	out, err := c.Output(ctx, b.agent("have"))
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 && (f[0] == "cache" || f[0] == "index" || f[0] == "git") {
			held[f[0]+" "+f[1]] = true
		}
	}
	sources, err := s.Sources(nil)
	if err != nil {
		return err
	}
	for _, src := range neededSources(p, sel) {
		it, err := localItem(ctx, cache, sources, src)
		if err != nil {
			b.say("%v: the board will fetch it itself", err)
			continue
		}
		if held["cache "+it.sum] && (it.index == "" || held["index "+it.index]) {
			b.res.HeldFiles++
			continue
		}
		if !held["cache "+it.sum] {
			if err := b.put(ctx, c, cache, it); err != nil {
				return err
			}
			held["cache "+it.sum] = true
		}
		if it.index != "" {
			if err := c.Command(ctx, b.agent("index", "--path", it.index), strings.NewReader(string(it.indexBytes)), nil); err != nil {
				return fmt.Errorf("send the cache index of %s: %w", it.name, err)
			}
			held["index "+it.index] = true
		}
	}
	b.gitCommits = nil
	for _, src := range neededGit(p, sel) {
		b.gitCommits = append(b.gitCommits, src.Commit)
		if held["git "+src.Commit] {
			b.res.HeldFiles++
			continue
		}
		held["git "+src.Commit] = true
		if err := b.putGit(ctx, c, cache, sources, src); err != nil {
			return err
		}
	}
	b.say("sources: sent %d files (%d bytes); %d already on the board", b.res.SentFiles, b.res.SentBytes, b.res.HeldFiles)
	return nil
}

// putGit sends this machine's cached bare repository of a git source
// (fetching the commit into it first if needed) to the board's mirror
// dir of the commit. A repository that cannot be had here is left for
// the board to fetch.
func (b *boardRun) putGit(ctx context.Context, c *Client, cache string, sources source.Set, src plan.Source) error {
	f, err := sources.For(src)
	if err == nil {
		err = f.Fetch(ctx, src, io.Discard)
	}
	if err != nil {
		b.say("git %s@%s is not in this machine's cache and could not be fetched (%v): the board will fetch it itself", src.Repo, src.Commit, err)
		return nil
	}
	u, _ := url.Parse(src.Repo)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(pw, gitsrc.RepoPath(cache, src.Repo))) }()
	cr := &countingReader{r: pr}
	err = c.Command(ctx, b.agent("gitput", "--commit", src.Commit, "--path", strings.TrimPrefix(u.Path, "/")), cr, nil)
	pr.CloseWithError(io.ErrClosedPipe)
	b.res.SentBytes += cr.n
	if err != nil {
		return fmt.Errorf("send git %s: %w", src.Repo, err)
	}
	b.res.SentFiles++
	return nil
}

// neededGit are the git sources of the selected fetch steps that a
// mirror can serve (a URL with a path; submodules, being more
// repositories, are left to the board), once per commit.
func neededGit(p *plan.Plan, sel map[string]bool) []plan.Source {
	var out []plan.Source
	seen := map[string]bool{}
	for _, st := range p.Steps {
		if !sel[st.ID] || st.Kind != plan.KindFetch {
			continue
		}
		for _, src := range st.Sources {
			u, err := url.Parse(src.Repo)
			if src.Kind != "git" || src.Submodules || err != nil || strings.Trim(u.Path, "/") == "" || seen[src.Commit] {
				continue
			}
			seen[src.Commit] = true
			out = append(out, src)
		}
	}
	return out
}

// put sends one content-addressed file; the board checks its sha256.
func (b *boardRun) put(ctx context.Context, c *Client, cache string, it cacheItem) error {
	f, err := os.Open(fetch.CachePath(cache, it.sum))
	if err != nil {
		return err
	}
	defer f.Close()
	cr := &countingReader{r: f}
	err = c.Command(ctx, b.agent("put", "--sha256", it.sum), cr, nil)
	b.res.SentBytes += cr.n
	if err != nil {
		return fmt.Errorf("send %s: %w", it.name, err)
	}
	b.res.SentFiles++
	return nil
}

// localItem finds src in this machine's cache, fetching it there first
// when it is missing.
func localItem(ctx context.Context, cache string, sources source.Set, src plan.Source) (cacheItem, error) {
	item := func() (cacheItem, bool) {
		if src.Kind == "url" {
			_, err := os.Stat(fetch.CachePath(cache, src.SHA256))
			return cacheItem{name: src.Filename, sum: src.SHA256}, err == nil
		}
		it, err := moduleItem(cache, src)
		return it, err == nil
	}
	if it, ok := item(); ok {
		return it, nil
	}
	f, err := sources.For(src)
	if err == nil {
		err = f.Fetch(ctx, src, io.Discard)
	}
	if it, ok := item(); ok && err == nil {
		return it, nil
	}
	name := src.Filename
	if src.Kind == "gomod" {
		name = src.Module + "@" + src.Version
	}
	return cacheItem{}, fmt.Errorf("%s is not in this machine's cache and could not be fetched (%v)", name, err)
}

// moduleItem reads the cache's index of a gomod source: which zip holds
// it, for the same h1.
func moduleItem(cache string, src plan.Source) (cacheItem, error) {
	ep, err := module.EscapePath(src.Module)
	if err != nil {
		return cacheItem{}, err
	}
	ev, err := module.EscapeVersion(src.Version)
	if err != nil {
		return cacheItem{}, err
	}
	rel := "gomod/" + ep + "/@v/" + ev + ".zip.sha256"
	data, err := os.ReadFile(filepath.Join(cache, filepath.FromSlash(rel)))
	if err != nil {
		return cacheItem{}, err
	}
	f := strings.Fields(string(data))
	if len(f) != 2 || f[1] != src.H1 || !hexRE.MatchString(f[0]) {
		return cacheItem{}, fmt.Errorf("%s: not an index of %s", rel, src.H1)
	}
	if _, err := os.Stat(fetch.CachePath(cache, f[0])); err != nil {
		return cacheItem{}, err
	}
	return cacheItem{name: src.Module + "@" + src.Version, sum: f[0], index: rel, indexBytes: data}, nil
}

// neededSources are the url and gomod sources (and verified artifacts)
// of the selected fetch and verify steps, once each (git: neededGit; svn
// and hg repositories the board fetches itself).
func neededSources(p *plan.Plan, sel map[string]bool) []plan.Source {
	var out []plan.Source
	seen := map[string]bool{}
	for _, st := range p.Steps {
		if !sel[st.ID] {
			continue
		}
		for _, src := range st.Fetched() {
			if (src.Kind == "url" && src.SHA256 != "" || src.Kind == "gomod") && !seen[src.Identity] {
				seen[src.Identity] = true
				out = append(out, src)
			}
		}
	}
	return out
}
