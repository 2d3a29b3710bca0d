package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/runner"
)

// BoardSpec is one --on value: ssh://USER@HOST[:PORT], optionally
// labelled with the target to build there (ARCH=ssh://...).
type BoardSpec struct {
	// Label is the target named before '=', or "" for the board's own.
	Label string
	Addr  Address
}

// ParseOn parses an --on value.
func ParseOn(s string) (BoardSpec, error) {
	var spec BoardSpec
	if i := strings.Index(s, "="); i >= 0 && !strings.Contains(s[:i], "/") {
		spec.Label, s = s[:i], s[i+1:]
		if _, ok := arch.Lookup(spec.Label); !ok {
			return spec, fmt.Errorf("--on %s=%s: unknown target %q", spec.Label, s, spec.Label)
		}
	}
	a, err := ParseAddress(s)
	spec.Addr = a
	return spec, err
}

// name is how output lines of the board are prefixed.
func (s BoardSpec) name() string {
	host := s.Addr.Host
	if s.Addr.Port != 22 {
		host = s.Addr.HostPort()
	}
	if s.Label != "" {
		return s.Label + " " + host
	}
	return host
}

// RunConfig is a run of one recipe on boards.
type RunConfig struct {
	// Recipe is the recipe's path on this machine.
	Recipe string
	// Boards are the --on values; they run in parallel.
	Boards []BoardSpec
	// Dial says how to reach and trust the boards.
	Dial DialOptions
	// BoardDir is the board dir on every board ("" for
	// ~/.cache/bootstrap-board; "~/" is the board user's home).
	BoardDir string
	// Selection picks the steps, and so the sources to send.
	Selection runner.Selection
	// RunArgs are flags for `bootstrap run` on the board (besides
	// --target, --workdir and --cache, which Run sets).
	RunArgs []string
	// FetchOutputs are paths of the board's work dir to bring back.
	FetchOutputs []string
	// FetchTo is where each board's logs, provenance.json and outputs go
	// (FetchTo/<recipe>-<target>@<host>[:<port>]/); empty means
	// ./.bootstrap/boards.
	FetchTo string
	// Cache and Sources are this machine's cache and source settings,
	// used to fill the cache with what the boards need.
	Cache   string
	Sources runner.SourceConfig
	// Binaries finds the bootstrap binary of each board's architecture.
	Binaries Binaries
	// Out receives every board's output, line by line, prefixed.
	Out io.Writer
	// MaxBackoff caps the wait between reconnection attempts (2 s when
	// zero): a link that comes back is used within it.
	MaxBackoff time.Duration
}

// Result is what a board did.
type Result struct {
	// Board is the prefix of its lines; Target what it built.
	Board, Target string
	// Code is the exit code of the board's run (-1 if it did not end).
	Code int
	// SentFiles and SentBytes count the source files sent; HeldFiles the
	// ones the board had already.
	SentFiles, HeldFiles int
	SentBytes            int64
	// Reattached counts the reconnections after a lost link.
	Reattached int
	// Fetched is where its logs and provenance were brought back.
	Fetched string
}

// Run runs the recipe on every board at once and returns one Result per
// board, in order, and an error naming the boards that failed. A
// canceled ctx (SIGINT, SIGTERM) cancels every board's run through its
// agent before Run returns.
func Run(ctx context.Context, cfg RunConfig) ([]Result, error) {
	if cfg.FetchTo == "" {
		cfg.FetchTo = filepath.Join(".bootstrap", "boards")
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	var mu sync.Mutex
	results := make([]Result, len(cfg.Boards))
	errs := make([]error, len(cfg.Boards))
	var wg sync.WaitGroup
	for i, spec := range cfg.Boards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &lineWriter{mu: &mu, out: cfg.Out, prefix: "[" + spec.name() + "] "}
			b := &boardRun{cfg: cfg, spec: spec, out: out, res: &results[i]}
			b.res.Board, b.res.Code = spec.name(), -1
			errs[i] = b.run(ctx)
			if errs[i] != nil && ctx.Err() == nil {
				fmt.Fprintf(out, "board: %v\n", errs[i])
			}
			out.Flush()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return results, ctx.Err()
	}
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", results[i].Board, err))
		}
	}
	if len(failed) > 0 {
		return results, errors.New(strings.Join(failed, "\n"))
	}
	return results, nil
}

// boardRun is the run on one board.
type boardRun struct {
	cfg  RunConfig
	spec BoardSpec
	out  io.Writer
	res  *Result
	// dir and bin are shell words for the board dir and our binary there.
	dir, bin   string
	key, runID string
	// uploads are the binary's upload files of this run's attempts.
	uploads []string
	// gitCommits name the git mirrors on the board the run is given.
	gitCommits []string
}

// say prints a line of the workstation's own about this board.
func (b *boardRun) say(format string, args ...any) {
	fmt.Fprintf(b.out, "board: "+format+"\n", args...)
}

// run is the board's stages: connect, set up (detect, send, start),
// follow, bring back. A link lost while setting up is reconnected and the
// set-up done again: each of its stages skips what the board has.
func (b *boardRun) run(ctx context.Context) error {
	c, err := Dial(ctx, b.spec.Addr, b.cfg.Dial)
	if err != nil {
		return err
	}
	// The client is replaced after a lost link, or left nil.
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	started := false
	for {
		err = b.setUp(ctx, c, &started)
		if err == nil || ctx.Err() != nil || !c.gone() {
			break
		}
		b.say("link lost (%v); reconnecting", err)
		c.Close()
		if c, err = b.redial(ctx); err != nil {
			break
		}
		b.res.Reattached++
		b.say("reconnected; setting up again")
	}
	if err == nil {
		c, err = b.follow(ctx, c)
	}
	if err != nil {
		if ctx.Err() != nil && started {
			b.cancel()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return b.finish(ctx, c)
}

// setUp detects the board, sends what it lacks and starts the run (or
// finds the one going on). *started is set once the start is sent.
func (b *boardRun) setUp(ctx context.Context, c *Client, started *bool) error {
	host, err := DetectBoard(ctx, c)
	if err != nil {
		return err
	}
	target := b.spec.Label
	if target == "" {
		target = host.Target.Name
	}
	b.res.Target = target
	b.say("%s, uname -m %s: %s; building for %s", b.spec.Addr, host.UnameM, host.Target.Name, target)
	b.dir = dirWord(b.cfg.BoardDir)
	if err := b.sendBinary(ctx, c, host.Target); err != nil {
		return err
	}
	s, err := runner.Open(ctx, runner.Config{Recipe: b.cfg.Recipe, Target: target, Cache: b.cfg.Cache, Sources: b.cfg.Sources})
	if err != nil {
		return err
	}
	defer s.Close()
	b.key = s.Plan().Recipe.Name.Value + "-" + target
	bundle, err := NewBundle(b.cfg.Recipe, s.Plan())
	if err != nil {
		return err
	}
	if err := b.prepare(ctx, c, s, bundle); err != nil {
		return err
	}
	return b.start(ctx, c, append([]string{bundle.Recipe, "--target", target}, b.cfg.RunArgs...), started)
}

// prepare sends the recipe bundle and the sources the board lacks,
// unless a run of the key is going on there: that run reads the recipe
// and the cache, which are left as they are.
func (b *boardRun) prepare(ctx context.Context, c *Client, s *runner.Session, bundle *Bundle) error {
	st, err := b.status(ctx, c)
	if err != nil || st.Alive {
		return err
	}
	tarball, err := bundle.Tar()
	if err != nil {
		return err
	}
	if err := c.Command(ctx, b.agent("unpack", "--key", b.key), bytes.NewReader(tarball), nil); err != nil {
		return err
	}
	return b.sendSources(ctx, c, s)
}

// start starts the board's run with args (the recipe and its flags), or
// takes the run of the key going on; *started is set once the command
// is sent, after which a cancel must reach the board.
func (b *boardRun) start(ctx context.Context, c *Client, args []string, started *bool) error {
	*started = true
	flags := []string{"--key", b.key}
	for _, commit := range b.gitCommits {
		flags = append(flags, "--git-commit", commit)
	}
	out, err := c.Output(ctx, b.agent("start", append(append(flags, "--"), args...)...))
	if err != nil {
		return err
	}
	var attached bool
	if _, err := fmt.Sscan(string(out), &b.runID, &attached); err != nil {
		return fmt.Errorf("board start said %q: %w", out, err)
	}
	if attached {
		b.say("a run of %s is going on (run %s): following it", b.key, b.runID)
	} else {
		b.say("started run %s of %s, detached", b.runID, b.key)
	}
	return nil
}

// finish reads the run's exit code and brings back its logs, provenance
// and the outputs asked for.
func (b *boardRun) finish(ctx context.Context, c *Client) error {
	st, err := b.status(ctx, c)
	if err != nil {
		return err
	}
	if st.Exit == nil {
		return fmt.Errorf("the run %s of %s on the board has not recorded its end", st.Run, b.key)
	}
	b.res.Code = st.Exit.Code
	host := b.spec.Addr.Host
	if b.spec.Addr.Port != 22 {
		host = b.spec.Addr.HostPort()
	}
	dest := filepath.Join(b.cfg.FetchTo, b.key+"@"+host)
	paths := append([]string{"logs", "provenance.json"}, b.cfg.FetchOutputs...)
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- untar(pr, dest); pr.Close() }()
	err = c.Command(ctx, b.agent("get", append([]string{"--key", b.key, "--"}, paths...)...), nil, pw)
	pw.CloseWithError(err)
	if uerr := <-errc; err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("bring back %s: %w", strings.Join(paths, ", "), err)
	}
	b.res.Fetched = dest
	var missing []string
	for _, o := range b.cfg.FetchOutputs {
		if _, err := os.Stat(filepath.Join(dest, o)); err != nil {
			missing = append(missing, o)
		}
	}
	b.say("logs and provenance in %s", dest)
	if st.Exit.Code != 0 {
		return fmt.Errorf("the run on the board failed (exit %d); its logs are in %s", st.Exit.Code, dest)
	}
	if len(missing) > 0 {
		return fmt.Errorf("--fetch-outputs: not in the board's work dir: %s", strings.Join(missing, ", "))
	}
	return nil
}

// status asks the board about the last run of the key.
func (b *boardRun) status(ctx context.Context, c *Client) (Status, error) {
	out, err := c.Output(ctx, b.agent("status", "--key", b.key))
	if err != nil {
		return Status{}, err
	}
	var st Status
	if err := json.Unmarshal(out, &st); err != nil {
		return Status{}, fmt.Errorf("board status of %s said %q: %w", b.key, out, err)
	}
	return st, nil
}

// agent is the shell command running our binary's `board VERB` on the
// board with the board dir and args (quoted).
func (b *boardRun) agent(verb string, args ...string) string {
	var sb strings.Builder
	sb.WriteString(b.bin + " board " + verb + " --dir " + b.dir)
	for _, a := range args {
		sb.WriteString(" " + shellQuote(a))
	}
	return sb.String()
}

// sendBinary makes sure bin/<sha256> of the board's architecture is on
// the board, sending it when not; the board checks the digest.
func (b *boardRun) sendBinary(ctx context.Context, c *Client, t arch.Target) error {
	buildDir, err := runner.CacheDir(b.cfg.Cache)
	if err != nil {
		return err
	}
	bins := b.cfg.Binaries
	if bins.BuildDir == "" {
		bins.BuildDir = filepath.Join(buildDir, "board-bin")
	}
	path, sum, err := bins.For(ctx, t, b.out)
	if err != nil {
		return err
	}
	b.bin = b.dir + "/bin/" + sum
	out, err := c.Output(ctx, "test -x "+b.bin+" && echo yes || echo no")
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(out)) == "yes" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, _ := f.Stat()
	b.say("sending bootstrap for %s (%.1f MB, sha256 %s)", t.Name, float64(fi.Size())/1e6, sum[:12])
	// A name of its own per attempt: an attempt cut off may still be
	// writing its copy when the next one starts.
	up := b.dir + "/bin/.upload-" + sum + "-" + newRunID()
	cmd := "mkdir -p " + b.dir + "/bin && cat > " + up + " && chmod 755 " + up + " && " + up + " board adopt --dir " + b.dir + " --sha256 " + sum
	b.uploads = append(b.uploads, up)
	if err := c.Command(ctx, cmd, f, nil); err != nil {
		return err
	}
	// The copies of attempts cut off before are of no use now.
	if stale := b.uploads[:len(b.uploads)-1]; len(stale) > 0 {
		_ = c.Command(ctx, "rm -f "+strings.Join(stale, " "), nil, nil)
	}
	b.uploads = nil
	return nil
}

// follow streams the run's log until it ends, reconnecting after a lost
// link and resuming at the byte where the stream stopped. It returns the
// client in use at the end.
func (b *boardRun) follow(ctx context.Context, c *Client) (*Client, error) {
	var offset int64
	for {
		w := &countingWriter{w: b.out, n: &offset}
		err := c.Command(ctx, b.agent("attach", "--key", b.key, "--run", b.runID, "--offset", fmt.Sprint(offset)), nil, w)
		if err == nil || ctx.Err() != nil {
			return c, err
		}
		var exit *ssh.ExitError
		if errors.As(err, &exit) {
			// The agent answered: the run is gone, not the link.
			return c, err
		}
		lost := time.Now()
		if at := c.DeadAt(); !at.IsZero() {
			b.say("link lost: no answer to keepalives; reconnecting (the run goes on on the board)")
		} else {
			b.say("link lost (%v); reconnecting (the run goes on on the board)", err)
		}
		c.Close()
		if c, err = b.redial(ctx); err != nil {
			return nil, err
		}
		b.res.Reattached++
		b.say("reattached after %.1fs; resuming the log at byte %d", time.Since(lost).Seconds(), offset)
	}
}

// redial connects again, waiting at most MaxBackoff between attempts,
// until it succeeds, the host key is refused, or ctx ends.
func (b *boardRun) redial(ctx context.Context) (*Client, error) {
	wait := 250 * time.Millisecond
	for {
		c, err := Dial(ctx, b.spec.Addr, b.cfg.Dial)
		if err == nil {
			return c, nil
		}
		var ke *hostKeyError
		if errors.As(err, &ke) || ctx.Err() != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		if wait *= 2; wait > b.cfg.MaxBackoff {
			wait = b.cfg.MaxBackoff
		}
	}
}

// cancel ends the board's run through its agent over a fresh connection:
// the one in use may be what broke, and SSH signals are not relied on.
func (b *boardRun) cancel() {
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	c, err := Dial(ctx, b.spec.Addr, b.cfg.Dial)
	if err != nil {
		b.say("could not reach the board to cancel run %s: %v; cancel it there with `bootstrap board cancel --key %s`", b.runID, err, b.key)
		return
	}
	defer c.Close()
	if err := c.Command(ctx, b.agent("cancel", "--key", b.key), nil, nil); err != nil {
		b.say("cancel run %s: %v", b.runID, err)
		return
	}
	b.say("canceled run %s on the board", b.runID)
}
