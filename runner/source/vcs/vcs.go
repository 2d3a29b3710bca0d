// Package vcs implements sources of kinds svn and hg through the svn and hg
// command-line clients, which porters of older projects still need (go-git
// has no equivalent for them). The svn cache is a working copy per URL,
// <cache>/svn/<sha256 of URL>, updated to the pinned revision when needed;
// the hg cache is a clone without a working directory per URL,
// <cache>/hg/<sha256 of URL>, pulled only when the pinned changeset is
// missing. Materialize exports the pinned tree from the cache without
// touching the network and without .svn or .hg metadata.
package vcs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

// Options configure the fetchers.
type Options struct {
	// CacheDir is the cache root.
	CacheDir string
	// Offline forbids contacting repositories; a revision missing from the
	// cache is an error wrapping fetch.ErrMissingOffline.
	Offline bool
}

var (
	_ source.Fetcher = (*SVN)(nil)
	_ source.Fetcher = (*HG)(nil)
)

// cacheDir is where the cache keeps url for a tool.
func cacheDir(root, tool, url string) string {
	h := sha256.Sum256([]byte(url))
	return filepath.Join(root, tool, hex.EncodeToString(h[:]))
}

// lock takes the exclusive lock of the cache entry of url for a tool, as
// git's entries have: svn's working copy and hg's clone are updated in
// place, so two runs sharing a cache must take turns (without it, two
// runs broke the svn fetch 3 times out of 3). It returns the release.
func lock(ctx context.Context, root, tool, url string, log io.Writer) (func(), error) {
	h := sha256.Sum256([]byte(url))
	unlock, err := fetch.LockEntry(ctx, root, tool+"-"+hex.EncodeToString(h[:]), tool+" "+url, orDiscard(log))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", tool, url, err)
	}
	return unlock, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// exportChecked runs export, which writes a tree into the directory it is
// given, into a fresh directory next to tree, checks the result's tree
// hash against want when want is set, and moves it to dest (tree/src.Dest).
// The export is hashed alone, before it joins other sources in tree, so
// the hash is the source's own. A mismatch is an error naming the cached
// copy and both hashes: the cache was edited or damaged, and the build
// must not use it.
func exportChecked(kind, url, cached, want, tree, dest string, export func(dir string) error) error {
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(tree)), ".export-")
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, url, err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "t")
	if err := export(out); err != nil {
		return err
	}
	if want != "" {
		got, err := treehash.Sum(out)
		if err != nil {
			return fmt.Errorf("%s %s: %w", kind, url, err)
		}
		if got != want {
			return fmt.Errorf("%s %s: the exported tree hashes to %s, not the pinned tree %s: the cached copy %s was changed or damaged; remove it to fetch it again", kind, url, got, want, cached)
		}
	}
	return moveInto(out, dest)
}

// moveInto moves the entries of dir into dest, creating dest; an entry
// that already exists in dest is an error (two sources would overlap).
func moveInto(dir, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		to := filepath.Join(dest, e.Name())
		if _, err := os.Lstat(to); err == nil {
			return fmt.Errorf("%s already exists: sources overlap", to)
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), to); err != nil {
			return err
		}
	}
	return nil
}

// TreeHash exports src from the cache into a temporary directory and
// returns its tree hash, for `bootstrap pin`. The source must have been
// fetched.
func TreeHash(ctx context.Context, f source.Fetcher, src plan.Source) (string, error) {
	tmp, err := os.MkdirTemp("", "bootstrap-pin-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src.Tree, src.Dest = "", "t"
	if err := f.Materialize(ctx, src, tmp, nil); err != nil {
		return "", err
	}
	return treehash.Sum(filepath.Join(tmp, "t"))
}

// tool describes a client and the Debian package that provides it.
type tool struct {
	name, pkg string
	env       []string
}

// run runs the tool and returns its stdout; the error carries its stderr.
// Output of long operations goes to log.
func (t tool) run(ctx context.Context, log io.Writer, args ...string) (string, error) {
	path, err := exec.LookPath(t.name)
	if err != nil {
		return "", fmt.Errorf("%s is not installed: install Debian package %s", t.name, t.pkg)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), t.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if log != nil {
		cmd.Stderr = io.MultiWriter(&stderr, log)
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[len(msg)-500:]
		}
		return "", fmt.Errorf("%s %s: %w: %s", t.name, strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// exists reports whether p exists.
func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// missing is the offline error for a revision not in the cache.
func missing(kind, url, rev string) error {
	return fmt.Errorf("%s %s: revision %s is not in the cache: %w", kind, url, rev, fetch.ErrMissingOffline)
}

// SVN fetches Subversion sources: src.Repo at revision src.Commit.
type SVN struct {
	opts Options
	svn  tool
}

// NewSVN returns the svn Fetcher.
func NewSVN(opts Options) *SVN {
	// --non-interactive keeps svn from waiting for a password prompt.
	return &SVN{opts: opts, svn: tool{name: "svn", pkg: "subversion", env: []string{"LC_ALL=C"}}}
}

func validRevision(rev string) bool {
	if rev == "" {
		return false
	}
	for _, c := range rev {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// at reports whether the working copy wc is at revision rev.
func (s *SVN) at(ctx context.Context, wc, rev string) bool {
	if !exists(filepath.Join(wc, ".svn")) {
		return false
	}
	got, err := s.svn.run(ctx, nil, "info", "--non-interactive", "--show-item", "revision", wc)
	return err == nil && got == rev
}

// Fetch checks out or updates the cached working copy to src.Commit.
// Errors name the repository URL.
func (s *SVN) Fetch(ctx context.Context, src plan.Source, log io.Writer) error {
	if !validRevision(src.Commit) {
		return fmt.Errorf("svn %s: revision %q is not a number", src.Repo, src.Commit)
	}
	wc := cacheDir(s.opts.CacheDir, "svn", src.Repo)
	unlock, err := lock(ctx, s.opts.CacheDir, "svn", src.Repo, log)
	if err != nil {
		return err
	}
	defer unlock()
	if s.at(ctx, wc, src.Commit) {
		return nil
	}
	if s.opts.Offline {
		return missing("svn", src.Repo, src.Commit)
	}
	if exists(filepath.Join(wc, ".svn")) {
		if _, err := s.svn.run(ctx, log, "update", "-q", "--non-interactive", "-r", src.Commit, wc); err != nil {
			return fmt.Errorf("svn %s: %w", src.Repo, err)
		}
		return nil
	}
	// Check out next to the final place and rename, so an interrupted
	// checkout is never taken for a cached one.
	tmp := wc + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(wc), 0o755); err != nil {
		return err
	}
	os.RemoveAll(wc)
	if _, err := s.svn.run(ctx, log, "checkout", "-q", "--non-interactive", "-r", src.Commit, src.Repo+"@"+src.Commit, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("svn %s: %w", src.Repo, err)
	}
	return os.Rename(tmp, wc)
}

// Materialize exports the cached working copy at src.Commit into dest and
// checks its tree hash against src.Tree.
func (s *SVN) Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error {
	dest := filepath.Join(tree, src.Dest)
	wc := cacheDir(s.opts.CacheDir, "svn", src.Repo)
	unlock, err := lock(ctx, s.opts.CacheDir, "svn", src.Repo, log)
	if err != nil {
		return err
	}
	defer unlock()
	if !s.at(ctx, wc, src.Commit) {
		if s.opts.Offline {
			return missing("svn", src.Repo, src.Commit)
		}
		return fmt.Errorf("svn %s: revision %s is not in the cache (fetch it first)", src.Repo, src.Commit)
	}
	// Exporting a working copy reads only local files: the ones a user
	// (or a step) may have edited, which the tree hash catches.
	return exportChecked("svn", src.Repo, wc, src.Tree, tree, dest, func(out string) error {
		if _, err := s.svn.run(ctx, log, "export", "-q", "--non-interactive", wc, out); err != nil {
			return fmt.Errorf("svn %s: %w", src.Repo, err)
		}
		return nil
	})
}

// HG fetches Mercurial sources: src.Repo at changeset src.Commit.
type HG struct {
	opts Options
	hg   tool
}

// NewHG returns the hg Fetcher.
func NewHG(opts Options) *HG {
	// HGPLAIN gives output and behaviour unaffected by user settings.
	return &HG{opts: opts, hg: tool{name: "hg", pkg: "mercurial", env: []string{"HGPLAIN=1", "LC_ALL=C"}}}
}

// has reports whether the clone at repo has changeset cs.
func (h *HG) has(ctx context.Context, repo, cs string) bool {
	if !exists(filepath.Join(repo, ".hg")) {
		return false
	}
	_, err := h.hg.run(ctx, nil, "log", "-R", repo, "-r", cs, "--template", "{node}")
	return err == nil
}

// Fetch clones src.Repo into the cache, or pulls into the cached clone when
// src.Commit is missing. Errors name the repository URL.
func (h *HG) Fetch(ctx context.Context, src plan.Source, log io.Writer) error {
	if _, err := hex.DecodeString(src.Commit); err != nil || len(src.Commit) < 12 {
		// A revision number or a name like "tip" would not pin anything.
		return fmt.Errorf("hg %s: changeset %q is not a hash of at least 12 hex digits", src.Repo, src.Commit)
	}
	repo := cacheDir(h.opts.CacheDir, "hg", src.Repo)
	unlock, err := lock(ctx, h.opts.CacheDir, "hg", src.Repo, log)
	if err != nil {
		return err
	}
	defer unlock()
	if h.has(ctx, repo, src.Commit) {
		return nil
	}
	if h.opts.Offline {
		return missing("hg", src.Repo, src.Commit)
	}
	if exists(filepath.Join(repo, ".hg")) {
		if _, err := h.hg.run(ctx, log, "pull", "-q", "-R", repo, src.Repo); err != nil {
			return fmt.Errorf("hg %s: %w", src.Repo, err)
		}
	} else {
		tmp := repo + ".tmp"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(filepath.Dir(repo), 0o755); err != nil {
			return err
		}
		os.RemoveAll(repo)
		if _, err := h.hg.run(ctx, log, "clone", "-q", "-U", src.Repo, tmp); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("hg %s: %w", src.Repo, err)
		}
		if err := os.Rename(tmp, repo); err != nil {
			return err
		}
	}
	if !h.has(ctx, repo, src.Commit) {
		return fmt.Errorf("hg %s: changeset %s not found", src.Repo, src.Commit)
	}
	return nil
}

// Materialize writes changeset src.Commit from the cached clone into dest.
func (h *HG) Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error {
	dest := filepath.Join(tree, src.Dest)
	repo := cacheDir(h.opts.CacheDir, "hg", src.Repo)
	unlock, err := lock(ctx, h.opts.CacheDir, "hg", src.Repo, log)
	if err != nil {
		return err
	}
	defer unlock()
	if !h.has(ctx, repo, src.Commit) {
		if h.opts.Offline {
			return missing("hg", src.Repo, src.Commit)
		}
		return fmt.Errorf("hg %s: changeset %s is not in the cache (fetch it first)", src.Repo, src.Commit)
	}
	// archivemeta=false: no .hg_archival.txt in the tree.
	return exportChecked("hg", src.Repo, repo, src.Tree, tree, dest, func(out string) error {
		if _, err := h.hg.run(ctx, log, "archive", "-R", repo, "-r", src.Commit, "-t", "files", "--config", "ui.archivemeta=false", out); err != nil {
			return fmt.Errorf("hg %s: %w", src.Repo, err)
		}
		return nil
	})
}
