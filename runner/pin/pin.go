// Package pin fills in what a recipe author left unpinned: a url source
// without sha256 gets the sha256 and the size of the file it downloads, a
// git source with a ref but no commit gets the commit the ref names now, an
// svn source without tree gets the tree hash of its exported tree. The recipe is
// edited by inserting one line per source, at the indentation of the
// source's keys, right after its url or ref entry; every other byte of the
// file (comments, order, quoting, blank lines) stays as it was.
//
// The recipe is read here with yaml.v3 nodes rather than through the recipe
// loader, because a recipe that needs pinning does not validate yet.
// ${{ name }} references in url and git values are expanded from the
// recipe's top-level vars only; any other reference is an error.
package pin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
	"github.com/porterkit/bootstrap/runner/recipeedit"
	"github.com/porterkit/bootstrap/runner/source/fetch"
	"github.com/porterkit/bootstrap/runner/source/gitsrc"
	"github.com/porterkit/bootstrap/runner/source/vcs"
)

// Options say where pinning downloads to and from.
type Options struct {
	// CacheDir is the cache downloads go to, so that a later run finds
	// them there; a git ref is asked of the server (of the cache when
	// offline), and its commit fetched by the run.
	CacheDir string
	// Mirrors are tried before the recipe's URLs, by file name.
	Mirrors []string
	// Offline uses only the cache, local mirrors and file:// URLs.
	Offline bool
	// Client does the HTTP requests; nil means fetch's default.
	Client *http.Client
	// Log receives an account of each download; nil discards it.
	Log io.Writer
}

// Change is one line pin inserted.
type Change struct {
	// Component is the name of the component the source belongs to.
	Component string
	// Line is the 1-based line of the inserted text in the new file.
	Line int
	// Key is "sha256", "size", "commit" or "tree"; Value is what was
	// written.
	Key, Value string
	// From is the URL downloaded or the ref resolved.
	From string
}

// insertion is a line to insert after line after (1-based) of the original.
type insertion struct {
	after  int
	indent int
	change Change
}

// File pins every unpinned url and git source in recipeFile and rewrites it
// in place (atomicfile.Write: temp, fsync, rename). It returns the changes
// in file order; with none, the file is not touched. Errors name
// file:line:col.
func File(ctx context.Context, recipeFile string, opts Options) ([]Change, error) {
	data, err := os.ReadFile(recipeFile)
	if err != nil {
		return nil, fmt.Errorf("pin: %w", err)
	}
	f, err := recipeedit.Parse(recipeFile, data)
	if err != nil {
		return nil, fmt.Errorf("pin %w", err)
	}
	p := &pinner{file: f, opts: opts, log: opts.Log}
	if p.log == nil {
		p.log = io.Discard
	}
	p.fetcher = fetch.New(fetch.Options{CacheDir: opts.CacheDir, Mirrors: opts.Mirrors, Offline: opts.Offline, Client: opts.Client})
	p.vars = scalars(get(f.Root, "vars"))
	var changes []Change
	for _, c := range f.Components() {
		more, err := p.component(ctx, c)
		if err != nil {
			return nil, err
		}
		for _, in := range more {
			f.Insert(in.after, fmt.Sprintf("%s%s: %s", strings.Repeat(" ", in.indent), in.change.Key, in.change.Value))
			changes = append(changes, in.change)
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	out, lines := f.Apply()
	for i := range changes {
		changes[i].Line = lines[i]
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Line < changes[j].Line })
	if err := atomicfile.Write(recipeFile, out, 0o644); err != nil {
		return nil, fmt.Errorf("pin: %w", err)
	}
	return changes, nil
}

type pinner struct {
	file    *recipeedit.File
	opts    Options
	log     io.Writer
	vars    map[string]string
	fetcher *fetch.Fetcher
}

func (p *pinner) errorf(n *yaml.Node, format string, args ...any) error {
	return p.file.Errorf(n, format, args...)
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	_, v := recipeedit.Lookup(m, key)
	return v
}

// entry returns the value and key nodes of key in mapping m.
func entry(m *yaml.Node, key string) (value, keyNode *yaml.Node) {
	k, v := recipeedit.Lookup(m, key)
	return v, k
}

// scalars reads a mapping of scalars.
func scalars(m *yaml.Node) map[string]string {
	vars := map[string]string{}
	if m == nil || m.Kind != yaml.MappingNode {
		return vars
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i+1].Kind == yaml.ScalarNode {
			vars[m.Content[i].Value] = m.Content[i+1].Value
		}
	}
	return vars
}

var ref = regexp.MustCompile(`\$\{\{\s*([^}\s]+)\s*\}\}`)

// expand replaces ${{ name }} with recipe vars, which may refer to vars.
func (p *pinner) expand(n *yaml.Node) (string, error) {
	s := n.Value
	for range 10 {
		var bad string
		s = ref.ReplaceAllStringFunc(s, func(m string) string {
			name := ref.FindStringSubmatch(m)[1]
			v, ok := p.vars[name]
			if !ok && bad == "" {
				bad = name
			}
			return v
		})
		if bad != "" {
			return "", p.errorf(n, "cannot pin: ${{ %s }} is not one of the recipe's vars", bad)
		}
		if !ref.MatchString(s) {
			return s, nil
		}
	}
	return "", p.errorf(n, "cannot pin: vars refer to each other in a loop")
}

func (p *pinner) component(ctx context.Context, c *yaml.Node) ([]insertion, error) {
	name := ""
	if n := get(c, "name"); n != nil {
		name = n.Value
	}
	var srcs []*yaml.Node
	if s := get(c, "source"); s != nil {
		srcs = append(srcs, s)
	}
	if s := get(c, "sources"); s != nil && s.Kind == yaml.SequenceNode {
		srcs = append(srcs, s.Content...)
	}
	var ins []insertion
	for _, s := range srcs {
		in, err := p.source(ctx, name, s)
		if err != nil {
			return nil, err
		}
		ins = append(ins, in...)
	}
	return ins, nil
}

// source returns the insertions that pin s, none when s needs none: a url
// source gets its sha256 and its size, a git source its commit, an svn
// source the tree hash of its exported tree.
func (p *pinner) source(ctx context.Context, comp string, s *yaml.Node) ([]insertion, error) {
	if s.Kind != yaml.MappingNode {
		return nil, nil
	}
	if svnNode, _ := entry(s, "svn"); svnNode != nil && get(s, "tree") == nil {
		return p.svnTree(ctx, comp, s, svnNode)
	}
	urlNode, urlKey := entry(s, "url")
	gitNode, _ := entry(s, "git")
	refNode, refKey := entry(s, "ref")
	var (
		after       *yaml.Node
		key, value  string
		from        string
		keyNode     *yaml.Node
		err         error
		needsPin    = urlNode != nil && get(s, "sha256") == nil
		needsCommit = gitNode != nil && refNode != nil && get(s, "commit") == nil
	)
	if !needsPin && !needsCommit {
		return nil, nil
	}
	if s.Style&yaml.FlowStyle != 0 {
		return nil, p.errorf(s, "cannot pin a source written in flow style ({...}); write it as a block mapping")
	}
	switch {
	case needsPin:
		var urls []string
		for _, n := range append([]*yaml.Node{urlNode}, urlNode.Content...) {
			if n.Kind != yaml.ScalarNode {
				continue
			}
			u, err := p.expand(n)
			if err != nil {
				return nil, err
			}
			urls = append(urls, u)
		}
		filename := ""
		if n := get(s, "filename"); n != nil {
			if filename, err = p.expand(n); err != nil {
				return nil, err
			}
		}
		if value, err = p.fetcher.Download(ctx, urls, filename, p.log); err != nil {
			return nil, p.errorf(urlNode, "%v", err)
		}
		after, keyNode, key, from = urlNode, urlKey, "sha256", strings.Join(urls, " ")
	case needsCommit:
		repo, err := p.expand(gitNode)
		if err != nil {
			return nil, err
		}
		r, err := p.expand(refNode)
		if err != nil {
			return nil, err
		}
		if value, err = gitsrc.New(gitsrc.Options{CacheDir: p.opts.CacheDir, Mirrors: p.opts.Mirrors, Offline: p.opts.Offline}).Resolve(ctx, repo, r, p.log); err != nil {
			return nil, p.errorf(refNode, "%v", err)
		}
		after, keyNode, key, from = refNode, refKey, "commit", repo+" "+r
	}
	in := insertion{
		after:  p.file.EndLine(after, keyNode.Column),
		indent: keyNode.Column - 1,
		change: Change{Component: comp, Key: key, Value: value, From: from},
	}
	out := []insertion{in}
	if key == "sha256" && get(s, "size") == nil {
		// The size bounds later downloads of the same file (a server
		// that sends more is cut off there).
		fi, err := os.Stat(fetch.CachePath(p.opts.CacheDir, value))
		if err != nil {
			return nil, p.errorf(urlNode, "%v", err)
		}
		in.change = Change{Component: comp, Key: "size", Value: strconv.FormatInt(fi.Size(), 10), From: from}
		out = append(out, in)
	}
	return out, nil
}

// svnTree fetches the svn source s at its revision and returns the
// insertion of its tree hash after the revision line.
func (p *pinner) svnTree(ctx context.Context, comp string, s, svnNode *yaml.Node) ([]insertion, error) {
	revNode, revKey := entry(s, "revision")
	if revNode == nil {
		return nil, p.errorf(s, "svn source has no revision: add revision: <number> first")
	}
	if s.Style&yaml.FlowStyle != 0 {
		return nil, p.errorf(s, "cannot pin a source written in flow style ({...}); write it as a block mapping")
	}
	repo, err := p.expand(svnNode)
	if err != nil {
		return nil, err
	}
	src := plan.Source{Kind: "svn", Repo: repo, Commit: revNode.Value}
	f := vcs.NewSVN(vcs.Options{CacheDir: p.opts.CacheDir, Offline: p.opts.Offline})
	if err := f.Fetch(ctx, src, p.log); err != nil {
		return nil, p.errorf(svnNode, "%v", err)
	}
	sum, err := vcs.TreeHash(ctx, f, src)
	if err != nil {
		return nil, p.errorf(svnNode, "%v", err)
	}
	return []insertion{{
		after:  p.file.EndLine(revNode, revKey.Column),
		indent: revKey.Column - 1,
		change: Change{Component: comp, Key: "tree", Value: sum, From: repo + "@" + revNode.Value},
	}}, nil
}
