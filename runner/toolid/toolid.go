// Package toolid names the exact host program a run step uses, so that a
// step's signature changes when the program does: upgrading gcc reruns
// exactly the steps that declared gcc, and `bootstrap explain` says which
// tool changed, from which binary to which.
//
// A tool's identity is its resolved path (symlinks followed, so switching
// an alternatives link counts), the sha256 of that binary and, for the
// porter's eyes, the first line of its version output. Hashing gcc or a
// Go toolchain's go binary on every `plan` would cost more than a no-op
// rerun is allowed to, so identities are cached by the binary's stat
// (device, inode, size, mtime, ctime): the same key git's index and Go's
// build cache trust. ctime cannot be set back by a program, so a binary
// rewritten in place with its old mtime restored is still re-hashed.
//
// Which binary a name means is decided on the host's part of the step's
// PATH: entries inside the work dir are skipped. What lies there was built
// by an earlier component, whose own signature already covers it, and it
// does not exist yet when a fresh run compiles its plan: looking there
// would give a step one identity before the chain built the tool and
// another after, and rerun it for nothing. A tool named by a path inside
// the work dir (${{ components.x.build }}/bin/go) is the chain's for the
// same reason and adds no identity.
package toolid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/porterkit/bootstrap/runner/require"
)

// versionTimeout bounds asking a tool for its version while a plan
// compiles: `plan` must not hang on a tool that waits for input.
const versionTimeout = 10 * time.Second

// cacheFormat changes when the cache file's meaning changes; a file of
// another format is ignored (and rewritten), never misread.
const cacheFormat = 1

// Identity is what a step's signature records about one tool.
type Identity struct {
	// Path is the binary that runs, every symlink resolved.
	Path string
	// Digest is "sha256:<hex>" of the binary's content.
	Digest string
	// Version is the first line of the tool's version output (`--version`,
	// or `go version` for a Go toolchain), "" when it prints none. It is
	// read when the binary is first hashed and kept with the digest.
	Version string
}

// String is the signature value: "<path> sha256:<hex>", then the version
// line on a line of its own when there is one (explain prints both).
func (id Identity) String() string {
	s := id.Path + " " + id.Digest
	if id.Version != "" {
		s += "\n" + id.Version
	}
	return s
}

// NotFound is the signature value of a tool that is on no host PATH
// entry: installing it later changes the value, and the step reruns.
const NotFound = "not found outside the work dir"

// Resolver identifies tools, reading and updating a cache file of digests.
// It is not safe for concurrent use: one plan compiles in one goroutine.
type Resolver struct {
	// workDirs are the work dir as given and with its symlinks resolved
	// (a binary's resolved path is compared with the latter).
	workDirs []string
	file     string
	cache    cacheFile
	loaded   bool
	dirty    bool
	// versionTimeout is versionTimeout, shorter in tests.
	versionTimeout time.Duration
	// Hashed counts the binaries hashed (cache misses), for tests and
	// measurements.
	Hashed int
}

// cacheFile is the JSON on disk: entries keyed by the path a tool was
// found at (not the resolved one: busybox answers --version by argv[0]).
type cacheFile struct {
	Format int              `json:"format"`
	Tools  map[string]entry `json:"tools"`
}

// entry is one cached identity with the stat it was taken under.
type entry struct {
	Resolved string `json:"resolved"`
	Dev      uint64 `json:"dev"`
	Ino      uint64 `json:"ino"`
	Size     int64  `json:"size"`
	Mtime    int64  `json:"mtime_ns"`
	Ctime    int64  `json:"ctime_ns"`
	Digest   string `json:"digest"`
	Version  string `json:"version,omitempty"`
}

// New returns a Resolver for the steps of workDir, caching digests in
// cacheFile ("" keeps them in memory only).
func New(workDir, cacheFile string) *Resolver {
	r := &Resolver{workDirs: []string{filepath.Clean(workDir)}, file: cacheFile, versionTimeout: versionTimeout}
	if real, err := filepath.EvalSymlinks(workDir); err == nil && real != r.workDirs[0] {
		r.workDirs = append(r.workDirs, real)
	}
	return r
}

// CacheName is the cache file's name inside bootstrap's cache dir. The
// identity of /usr/bin/gcc is a fact about the host, shared by every work
// dir, and the cache dir is what no step's sandbox can see or write.
const CacheName = "toolid.json"

// Identify returns the signature value of tool for a step with
// environment env, and false when the tool belongs to the chain (a path
// inside the work dir, or a relative one, which the step resolves from its
// own dir). A tool on no host PATH entry is NotFound; a binary that
// cannot be read gets a value saying so. Identify reports no error: a
// missing tool is for doctor and the step's requires: check to report,
// and `plan` must work on a host that lacks it.
func (r *Resolver) Identify(ctx context.Context, tool string, env []string) (string, bool) {
	found, ok := r.lookPath(tool, env)
	if !ok {
		return "", false
	}
	if found == "" {
		return NotFound, true
	}
	resolved, err := filepath.EvalSymlinks(found)
	if err != nil {
		return fmt.Sprintf("%s: %v", found, unwrapPath(err)), true
	}
	if r.inWork(resolved) {
		return "", false
	}
	id, err := r.identity(ctx, found, resolved, env)
	if err != nil {
		return fmt.Sprintf("%s: %v", resolved, unwrapPath(err)), true
	}
	return id.String(), true
}

// lookPath finds tool as the step's shell would, but only on PATH entries
// outside the work dir. It returns "" and true when no such entry has the
// tool, and false when the tool is the chain's own.
func (r *Resolver) lookPath(tool string, env []string) (string, bool) {
	if strings.Contains(tool, "/") {
		if !filepath.IsAbs(tool) || r.inWork(tool) {
			return "", false
		}
		return filepath.Clean(tool), true
	}
	for _, dir := range filepath.SplitList(require.EnvValue(env, "PATH")) {
		// A relative entry ("", ".") means the step's own dir, which is
		// in the work dir.
		if !filepath.IsAbs(dir) || r.inWork(dir) {
			continue
		}
		p := filepath.Join(dir, tool)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, true
		}
	}
	return "", true
}

// inWork reports whether p lies in the work dir.
func (r *Resolver) inWork(p string) bool {
	p = filepath.Clean(p)
	for _, w := range r.workDirs {
		if p == w || strings.HasPrefix(p, w+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// identity returns the identity of the binary resolved (found as found),
// from the cache when its stat is unchanged, else by hashing it and asking
// it for its version. It returns an error when the binary cannot be read.
func (r *Resolver) identity(ctx context.Context, found, resolved string, env []string) (Identity, error) {
	fi, err := os.Stat(resolved)
	if err != nil {
		return Identity{}, err
	}
	key := statKey(resolved, fi)
	r.load()
	if e, ok := r.cache.Tools[found]; ok && e.sameFile(key) {
		return Identity{Path: resolved, Digest: e.Digest, Version: e.Version}, nil
	}
	sum, err := treehash.FileSHA256(resolved)
	if err != nil {
		return Identity{}, err
	}
	digest := "sha256:" + sum
	r.Hashed++
	key.Digest = digest
	// The version is asked of the name as found: a multi-call binary
	// (busybox) answers for the name it was run as.
	vctx, cancel := context.WithTimeout(ctx, r.versionTimeout)
	tv, err := require.Version(vctx, found, env, nil)
	timedOut := vctx.Err() != nil
	cancel()
	switch {
	case err == nil:
		key.Version = tv.Line
	case timedOut:
		// Interrupted or too slow (a loaded machine), not the tool's own
		// answer: not cached, so that the next compile asks again rather
		// than keep a version line the tool would have printed.
		return Identity{Path: resolved, Digest: key.Digest}, nil
	}
	r.cache.Tools[found] = key
	r.dirty = true
	return Identity{Path: resolved, Digest: key.Digest, Version: key.Version}, nil
}

// statKey is the cache entry for a file, without digest and version.
func statKey(resolved string, fi fs.FileInfo) entry {
	e := entry{Resolved: resolved, Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Dev, e.Ino = uint64(st.Dev), uint64(st.Ino)
		e.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return e
}

// sameFile reports whether a cached entry was taken of the file now
// described by key.
func (e entry) sameFile(key entry) bool {
	return e.Resolved == key.Resolved && e.Dev == key.Dev && e.Ino == key.Ino &&
		e.Size == key.Size && e.Mtime == key.Mtime && e.Ctime == key.Ctime && e.Digest != ""
}

// load reads the cache file once. A missing, unreadable or foreign file
// is an empty cache: the worst a lost cache costs is hashing again, and
// no signature is taken from it without its stat matching the binary's.
func (r *Resolver) load() {
	if r.loaded {
		return
	}
	r.loaded = true
	if r.file != "" {
		if data, err := os.ReadFile(r.file); err == nil {
			if json.Unmarshal(data, &r.cache) != nil || r.cache.Format != cacheFormat {
				r.cache = cacheFile{}
			}
		}
	}
	r.cache.Format = cacheFormat
	if r.cache.Tools == nil {
		r.cache.Tools = map[string]entry{}
	}
}

// Save writes the cache file when anything was hashed since it was read,
// atomically (temp file and rename, so a concurrent reader sees the old
// or the new file and another bootstrap's Save loses at most its own
// additions). It returns an error naming the file.
func (r *Resolver) Save() error {
	if !r.dirty || r.file == "" {
		return nil
	}
	data, err := json.MarshalIndent(r.cache, "", "  ")
	if err != nil {
		return fmt.Errorf("tool identity cache %s: %w", r.file, err)
	}
	if err := os.MkdirAll(filepath.Dir(r.file), 0o755); err != nil {
		return fmt.Errorf("tool identity cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(r.file), ".toolid-*")
	if err != nil {
		return fmt.Errorf("tool identity cache: %w", err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tool identity cache %s: %w", r.file, err)
	}
	if err := os.Rename(tmp.Name(), r.file); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tool identity cache: %w", err)
	}
	r.dirty = false
	return nil
}

// unwrapPath drops the *fs.PathError wrapper whose path the caller already
// shows.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Describe says in one line how a tool's identity changed, for plan and
// explain: "/usr/bin/gcc-12 sha256:1a2b3c4d5e6f → /usr/bin/gcc-13
// sha256:…", the path shown once when it did not change, digests cut to
// 12 hex digits.
func Describe(old, cur string) string {
	op, od := splitValue(old)
	np, nd := splitValue(cur)
	if op == np && od != "" && nd != "" {
		return fmt.Sprintf("%s %s → %s", op, od, nd)
	}
	return strings.TrimSpace(op+" "+od) + " → " + strings.TrimSpace(np+" "+nd)
}

// splitValue splits a signature value's first line into path and
// shortened digest ("" when the value is not "<path> sha256:<hex>").
func splitValue(v string) (string, string) {
	first, _, _ := strings.Cut(v, "\n")
	p, d, ok := strings.Cut(first, " sha256:")
	if !ok {
		return first, ""
	}
	if len(d) > 12 {
		d = d[:12]
	}
	return p, "sha256:" + d
}
