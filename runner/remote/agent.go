package remote

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/porterkit/bootstrap/runner/state"
)

// Agent is the board side of a run over SSH, rooted at Dir (by default
// ~/.cache/bootstrap-board):
//
//	bin/<sha256>         bootstrap binaries, named by content
//	cache/               the bootstrap cache of the board's runs
//	git/<commit>/        git repositories as sent: --mirror dirs
//	keys/                the board's provenance signing key
//	recipes/<key>/       the recipe, its bases and patches as sent
//	runs/<key>/work/     the work dir (checkpoints live here)
//	runs/<key>/agent/    run.json, exit.json and log of the last run
//
// Every method either returns its error or, for the long-lived ones,
// reports it in the run's log; none prints to the caller's terminal.
type Agent struct {
	// Dir is the board dir.
	Dir string
}

// DefaultBoardDir is the board dir under the board user's home.
const DefaultBoardDir = ".cache/bootstrap-board"

// NewAgent returns the agent of dir, or of ~/.cache/bootstrap-board when
// dir is empty.
func NewAgent(dir string) (Agent, error) {
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return Agent{}, fmt.Errorf("board dir: %w", err)
		}
		dir = filepath.Join(home, DefaultBoardDir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Agent{}, fmt.Errorf("board dir %s: %w", dir, err)
	}
	return Agent{Dir: abs}, nil
}

var (
	hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// commitRE is a git commit hash, SHA-1 or SHA-256.
	commitRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

func checkKey(key string) error {
	if !keyRE.MatchString(key) {
		return fmt.Errorf("run key %q: want letters, digits, '.', '_' and '-'", key)
	}
	return nil
}

// CacheDir is the board's bootstrap cache.
func (a Agent) CacheDir() string { return filepath.Join(a.Dir, "cache") }

// WorkDir is the work dir of the run key.
func (a Agent) WorkDir(key string) string { return filepath.Join(a.Dir, "runs", key, "work") }

// RecipeDir is where the recipe of the run key is unpacked.
func (a Agent) RecipeDir(key string) string { return filepath.Join(a.Dir, "recipes", key) }

func (a Agent) agentDir(key string) string { return filepath.Join(a.Dir, "runs", key, "agent") }

// LogPath is the log of the last run of key: the run's whole output.
func (a Agent) LogPath(key string) string { return filepath.Join(a.agentDir(key), "log") }

// Have writes one line per content-addressed file the board holds:
// "bin <sha256>" and "cache <sha256>", and one per Go module index of the
// cache: "index gomod/<module>/@v/<version>.zip.sha256".
func (a Agent) Have(w io.Writer) error {
	if err := a.haveFiles(w); err != nil {
		return err
	}
	if ents, err := os.ReadDir(filepath.Join(a.Dir, "git")); err == nil {
		for _, e := range ents {
			if _, err := os.Stat(filepath.Join(a.Dir, "git", e.Name(), ".complete")); err == nil && commitRE.MatchString(e.Name()) {
				fmt.Fprintf(w, "git %s\n", e.Name())
			}
		}
	}
	root := a.CacheDir()
	err := filepath.WalkDir(filepath.Join(root, "gomod"), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".zip.sha256") {
			rel, _ := filepath.Rel(root, p)
			fmt.Fprintf(w, "index %s\n", filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("have: %w", err)
	}
	return nil
}

// Index writes a Go module's cache index (rel, under the cache:
// gomod/<module>/@v/<version>.zip.sha256) with the content of r.
func (a Agent) Index(rel string, r io.Reader) error {
	if !filepath.IsLocal(rel) || !strings.HasPrefix(rel, "gomod/") || !strings.HasSuffix(rel, ".zip.sha256") {
		return fmt.Errorf("index: %q is not a module index of the cache", rel)
	}
	data, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	p := filepath.Join(a.CacheDir(), filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return state.WriteFileAtomic(p, data)
}

// GitMirror is the mirror dir holding a repository with commit, as
// GitPut left it.
func (a Agent) GitMirror(commit string) string { return filepath.Join(a.Dir, "git", commit) }

// GitPut unpacks the tar stream r (a bare repository holding commit) at
// rel in the mirror dir of commit: bootstrap's git fetcher finds a
// repository in a --mirror dir at its URL's path. A mirror already
// complete is kept.
func (a Agent) GitPut(commit, rel string, r io.Reader) error {
	if !commitRE.MatchString(commit) {
		return fmt.Errorf("gitput: bad commit %q", commit)
	}
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("gitput: %q is not a relative path", rel)
	}
	final := a.GitMirror(commit)
	if _, err := os.Stat(filepath.Join(final, ".complete")); err == nil {
		_, err = io.Copy(io.Discard, r)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".partial-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := untar(r, filepath.Join(tmp, rel)); err != nil {
		return fmt.Errorf("gitput %s: %w", commit, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return err
	}
	os.RemoveAll(final)
	return os.Rename(tmp, final)
}

// haveFiles lists the content-addressed files.
func (a Agent) haveFiles(w io.Writer) error {
	for _, d := range []struct{ kind, dir string }{{"bin", filepath.Join(a.Dir, "bin")}, {"cache", filepath.Join(a.CacheDir(), "sha256")}} {
		ents, err := os.ReadDir(d.dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("have: %w", err)
		}
		for _, e := range ents {
			if hexRE.MatchString(e.Name()) && e.Type().IsRegular() {
				fmt.Fprintf(w, "%s %s\n", d.kind, e.Name())
			}
		}
	}
	return nil
}

// Put stores r in the cache as sha256/<sum> if its content has that
// sha256, and returns the number of bytes received. A mismatch (a
// damaged transfer) stores nothing.
func (a Agent) Put(r io.Reader, sum string) (int64, error) {
	if !hexRE.MatchString(sum) {
		return 0, fmt.Errorf("put: bad sha256 %q", sum)
	}
	return storeVerified(r, filepath.Join(a.CacheDir(), "sha256", sum), sum, 0o644)
}

// storeVerified copies r into final through a temp file in the same dir,
// renaming it into place only when its sha256 is sum.
func storeVerified(r io.Reader, final, sum string, mode os.FileMode) (int64, error) {
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(dir, ".partial-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("receive %s: %w", final, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return n, fmt.Errorf("receive %s: sha256 %s, want %s (damaged in transfer; nothing stored)", final, got, sum)
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), final)
}

// Adopt checks that the file at path (a binary just copied to the board)
// has the sha256 sum and copies it to bin/<sum>; path is removed either
// way.
func (a Agent) Adopt(path, sum string) error {
	if !hexRE.MatchString(sum) {
		return fmt.Errorf("adopt: bad sha256 %q", sum)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	defer f.Close()
	_, err = storeVerified(f, filepath.Join(a.Dir, "bin", sum), sum, 0o755)
	// Kept or not, the uploaded copy has served.
	os.Remove(path)
	return err
}

// RunInfo is runs/<key>/agent/run.json: the run going on or last started.
type RunInfo struct {
	// Run is the run's random ID; attach and cancel name it.
	Run string `json:"run"`
	// PID is the supervisor's process ID and Start its start time in
	// clock ticks since boot (/proc/PID/stat field 22), so that a reused
	// PID is not taken for the run.
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
	// Args are the bootstrap arguments of the run.
	Args []string `json:"args"`
}

// ExitInfo is runs/<key>/agent/exit.json, written by the supervisor when
// the run has ended and every process it started is gone.
type ExitInfo struct {
	Run  string `json:"run"`
	Code int    `json:"code"`
	// Canceled is true when the run ended because of `board cancel`.
	Canceled bool `json:"canceled,omitempty"`
}

// Status is what the board knows about the last run of a key.
type Status struct {
	RunInfo
	// Alive is true while the supervisor runs.
	Alive bool `json:"alive"`
	// Exit is set once the run has ended.
	Exit *ExitInfo `json:"exit,omitempty"`
}

// Status reads the state of the last run of key; a key that never ran
// gives a zero Status.
func (a Agent) Status(key string) (Status, error) {
	if err := checkKey(key); err != nil {
		return Status{}, err
	}
	var st Status
	data, err := os.ReadFile(filepath.Join(a.agentDir(key), "run.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	if err := json.Unmarshal(data, &st.RunInfo); err != nil {
		return st, fmt.Errorf("status: %s: %w", filepath.Join(a.agentDir(key), "run.json"), err)
	}
	st.Alive = processAlive(st.PID, st.Start)
	data, err = os.ReadFile(filepath.Join(a.agentDir(key), "exit.json"))
	if err == nil {
		var ex ExitInfo
		if json.Unmarshal(data, &ex) == nil && ex.Run == st.Run {
			st.Exit = &ex
		}
	}
	return st, nil
}

// newRunID is 8 random bytes in hex.
func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lock takes the agent's lock of key for changes to run.json; the
// returned func releases it.
func (a Agent) lock(key string) (func(), error) {
	if err := os.MkdirAll(a.agentDir(key), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(a.agentDir(key), "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// writeJSON writes v to path atomically.
func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(path, append(data, '\n'))
}

// processAlive reports whether pid runs and started at start (clock
// ticks since boot); a zombie counts as gone.
func processAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && st.start == start && st.state != 'Z' && st.state != 'X'
}

// procStat is what readStat takes from /proc/PID/stat.
type procStat struct {
	ppid  int
	state byte
	start uint64
}

// readStat parses /proc/PID/stat; the command name in parentheses may
// hold spaces and parentheses, so fields are counted from the last ')'.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); field 4 is the ppid, field 22 the start.
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var s procStat
	s.state = f[0][0]
	fmt.Sscan(f[1], &s.ppid)
	fmt.Sscan(f[19], &s.start)
	return s, nil
}

// Descendants lists the processes below pid (children, theirs, ...)
// from /proc, zombies included.
func Descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		var p int
		if _, err := fmt.Sscan(e.Name(), &p); err != nil || p <= 0 {
			continue
		}
		if st, err := readStat(p); err == nil {
			children[st.ppid] = append(children[st.ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// waitGone waits until pid (started at start) is gone, up to d, and
// reports whether it is.
func waitGone(pid int, start uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for processAlive(pid, start) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
