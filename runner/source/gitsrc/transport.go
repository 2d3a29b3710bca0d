package gitsrc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// errSHARefused says that the server did not send a commit asked for by
// its hash: a protocol v0 server without
// uploadpack.allowReachableSHA1InWant refuses to, and no server sends a
// commit it does not have (git says "not our ref" for both).
var errSHARefused = errors.New("the server does not send this commit by its hash (no uploadpack.allowReachableSHA1InWant, or no such commit)")

// fullDepth asks for the whole history of a shallow repository (git's
// --unshallow sends the same).
const fullDepth = 1<<31 - 1

// fetchRequest is one fetch into the cache's bare repository.
type fetchRequest struct {
	// specs are refspecs; a source may be a full commit hash.
	specs []string
	// depth limits the history fetched from each wanted tip; 0 means all
	// of it.
	depth int
}

// transport is how the cache talks to a server: through the git command
// when it is installed, else through go-git, so that the static binary
// works on a board without git.
type gitTransport interface {
	// name is what the step log calls it.
	name() string
	// lsRemote lists url's refs by name, peeled tags as NAME^{}.
	lsRemote(ctx context.Context, url string) (map[string]plumbing.Hash, error)
	// fetch runs req from url into the bare repository at repoPath, whose
	// lock is held through lock (which a child process inherits, so that
	// the lock outlives a killed bootstrap as long as its child runs).
	fetch(ctx context.Context, repoPath, url string, req fetchRequest, lock *os.File, log io.Writer) error
}

// cliTransport runs the git command. git's fetch streams the pack to disk
// and indexes it with several threads, in a fraction of go-git's memory.
type cliTransport struct {
	git string
}

func (t cliTransport) name() string { return "git " + t.git }

func (t cliTransport) command(ctx context.Context, lock *os.File, args ...string) *exec.Cmd {
	// protocol v2 lets a want name any commit the server has; gc.auto=0
	// keeps a fetch from repacking the cache behind our back.
	cmd := exec.CommandContext(ctx, t.git, append([]string{"-c", "protocol.version=2", "-c", "gc.auto=0", "-c", "fetch.writeCommitGraph=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true")
	// A git left behind by a killed bootstrap dies with it, and until
	// then holds the repository's lock through the inherited descriptor.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if lock != nil {
		cmd.ExtraFiles = []*os.File{lock}
	}
	return cmd
}

func (t cliTransport) lsRemote(ctx context.Context, url string) (map[string]plumbing.Hash, error) {
	var stderr bytes.Buffer
	cmd := t.command(ctx, nil, "ls-remote", "--", url)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-remote: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	refs := map[string]plumbing.Hash{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		h, name, ok := strings.Cut(sc.Text(), "\t")
		if ok && plumbing.IsHash(h) {
			refs[name] = plumbing.NewHash(h)
		}
	}
	return refs, nil
}

func (t cliTransport) fetch(ctx context.Context, repoPath, url string, req fetchRequest, lock *os.File, log io.Writer) error {
	// Only options git has had for years (no --no-write-fetch-head, 2.29):
	// the host's git may be old. FETCH_HEAD is written under our lock.
	args := []string{"--git-dir=" + repoPath, "fetch", "--no-tags", "--quiet", "--force"}
	switch {
	case req.depth > 0:
		args = append(args, "--depth="+strconv.Itoa(req.depth))
	case isShallow(repoPath):
		args = append(args, "--unshallow")
	}
	args = append(args, "--", url)
	cmd := t.command(ctx, lock, append(args, req.specs...)...)
	var stderr bytes.Buffer
	// One writer for both: exec then never calls it from two goroutines.
	w := io.MultiWriter(log, &stderr)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		msg := stderr.String()
		if strings.Contains(msg, "not our ref") || strings.Contains(msg, "unadvertised object") {
			return errSHARefused
		}
		return fmt.Errorf("git fetch: %w: %s", err, lastLine(msg))
	}
	return nil
}

// goGitTransport fetches with go-git. It speaks protocol v0/v1 only, so a
// want of a bare commit needs a server that allows it.
type goGitTransport struct{}

func (goGitTransport) name() string { return "go-git" }

func (goGitTransport) lsRemote(ctx context.Context, url string) (map[string]plumbing.Hash, error) {
	r := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	list, err := r.ListContext(ctx, &git.ListOptions{PeelingOption: git.AppendPeeled})
	if err != nil {
		return nil, err
	}
	refs := map[string]plumbing.Hash{}
	for _, ref := range list {
		if ref.Type() == plumbing.HashReference {
			refs[ref.Name().String()] = ref.Hash()
		}
	}
	return refs, nil
}

func (goGitTransport) fetch(ctx context.Context, repoPath, url string, req fetchRequest, _ *os.File, log io.Writer) error {
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		return err
	}
	specs := make([]config.RefSpec, len(req.specs))
	for i, s := range req.specs {
		specs[i] = config.RefSpec(s)
	}
	depth := req.depth
	if depth == 0 && isShallow(repoPath) {
		depth = fullDepth
	}
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	err = remote.FetchContext(ctx, &git.FetchOptions{RefSpecs: specs, Depth: depth, Tags: git.NoTags, Force: true})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, git.ErrExactSHA1NotSupported):
		return errSHARefused
	}
	return err
}

// isShallow says whether the repository at repoPath lacks part of its
// history (has a non-empty shallow file).
func isShallow(repoPath string) bool {
	st, err := os.Stat(repoPath + "/shallow")
	return err == nil && st.Size() > 0
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
