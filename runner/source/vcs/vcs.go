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

// Materialize exports the cached working copy at src.Commit into dest.
func (s *SVN) Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error {
	dest := filepath.Join(tree, src.Dest)
	wc := cacheDir(s.opts.CacheDir, "svn", src.Repo)
	if !s.at(ctx, wc, src.Commit) {
		if s.opts.Offline {
			return missing("svn", src.Repo, src.Commit)
		}
		return fmt.Errorf("svn %s: revision %s is not in the cache (fetch it first)", src.Repo, src.Commit)
	}
	// Exporting a working copy reads only local files.
	if _, err := s.svn.run(ctx, log, "export", "-q", "--force", "--non-interactive", wc, dest); err != nil {
		return fmt.Errorf("svn %s: %w", src.Repo, err)
	}
	return nil
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
	if !h.has(ctx, repo, src.Commit) {
		if h.opts.Offline {
			return missing("hg", src.Repo, src.Commit)
		}
		return fmt.Errorf("hg %s: changeset %s is not in the cache (fetch it first)", src.Repo, src.Commit)
	}
	// archivemeta=false: no .hg_archival.txt in the tree.
	if _, err := h.hg.run(ctx, log, "archive", "-R", repo, "-r", src.Commit, "-t", "files", "--config", "ui.archivemeta=false", dest); err != nil {
		return fmt.Errorf("hg %s: %w", src.Repo, err)
	}
	return nil
}
