package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner/remote"
)

// boardCommand is the hidden `bootstrap board`: the agent a workstation
// drives over SSH on a board (runner/remote.Agent). Porters do not type
// these; `run --on` does.
func boardCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "dir", Usage: "board `DIR`", DefaultText: "~/" + remote.DefaultBoardDir}
	key := &cli.StringFlag{Name: "key", Usage: "run `KEY` (<recipe name>-<target>)", Required: true}
	run := &cli.StringFlag{Name: "run", Usage: "run `ID`", Required: true}
	sum := &cli.StringFlag{Name: "sha256", Usage: "content's `SHA256`", Required: true}
	// withAgent opens the board dir's agent (--dir) for an action.
	withAgent := func(f func(*cli.Context, remote.Agent) error) cli.ActionFunc {
		return func(c *cli.Context) error {
			a, err := remote.NewAgent(c.String("dir"))
			if err != nil {
				return err
			}
			return f(c, a)
		}
	}
	self := func() (string, error) {
		p, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("own executable: %w", err)
		}
		return p, nil
	}
	return &cli.Command{
		Name:   "board",
		Usage:  "the agent `run --on` drives on a board over SSH",
		Hidden: true,
		Subcommands: []*cli.Command{
			{Name: "have", Usage: "list the content-addressed files the board holds", Flags: []cli.Flag{dir},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					return a.Have(c.App.Writer)
				})},
			{Name: "put", Usage: "store stdin in the cache if its sha256 matches", Flags: []cli.Flag{dir, sum},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					_, err := a.Put(os.Stdin, c.String("sha256"))
					return err
				})},
			{Name: "index", Usage: "write a Go module's cache index (stdin) at PATH under the cache", Flags: []cli.Flag{dir,
				&cli.StringFlag{Name: "path", Usage: "`PATH` under the cache", Required: true}},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					return a.Index(c.String("path"), os.Stdin)
				})},
			{Name: "adopt", Usage: "check this executable's sha256 and keep it as bin/<sha256>", Flags: []cli.Flag{dir, sum},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					p, err := self()
					if err != nil {
						return err
					}
					return a.Adopt(p, c.String("sha256"))
				})},
			{Name: "unpack", Usage: "replace the recipe dir of KEY with the tar stream on stdin", Flags: []cli.Flag{dir, key},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					return a.Unpack(c.String("key"), os.Stdin)
				})},
			{Name: "gitput", Usage: "unpack a bare repository (tar on stdin) holding COMMIT at PATH of its mirror dir",
				Flags: []cli.Flag{dir, &cli.StringFlag{Name: "commit", Usage: "`COMMIT` the repository holds", Required: true},
					&cli.StringFlag{Name: "path", Usage: "the repository URL's `PATH`", Required: true}},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					return a.GitPut(c.String("commit"), c.String("path"), os.Stdin)
				})},
			{Name: "start", Usage: "start the run of KEY detached, or name the one going on", ArgsUsage: "RECIPE [RUN FLAGS]",
				Flags: []cli.Flag{dir, key, &cli.StringSliceFlag{Name: "git-commit", Usage: "give the run the mirror dir of `COMMIT` (repeatable)"}},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					p, err := self()
					if err != nil {
						return err
					}
					if c.NArg() < 1 {
						return &usageError{"usage: bootstrap board start --key KEY RECIPE [RUN FLAGS]"}
					}
					id, attached, err := a.Start(p, c.String("key"), c.Args().First(), c.StringSlice("git-commit"), c.Args().Tail())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "%s %v\n", id, attached)
					return nil
				})},
			{Name: "supervise", Usage: "run and watch a run (started by start)", Flags: []cli.Flag{dir, key, run},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					p, err := self()
					if err != nil {
						return err
					}
					os.Exit(a.Supervise(p, c.String("key"), c.String("run"), c.Args().Slice()))
					return nil
				})},
			{Name: "attach", Usage: "stream the run's log from an offset until it ends", Flags: []cli.Flag{dir, key, run,
				&cli.Int64Flag{Name: "offset", Usage: "start at byte `N` of the log"}},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					return a.Attach(c.Context, c.String("key"), c.String("run"), c.Int64("offset"), c.App.Writer)
				})},
			{Name: "status", Usage: "the last run of KEY, as JSON", Flags: []cli.Flag{dir, key},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					st, err := a.Status(c.String("key"))
					if err != nil {
						return err
					}
					_, err = c.App.Writer.Write(remote.MarshalStatus(st))
					return err
				})},
			{Name: "cancel", Usage: "end the run of KEY and every process it started", Flags: []cli.Flag{dir, key},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					was, err := a.Cancel(c.String("key"), 5*time.Second)
					if err == nil {
						fmt.Fprintf(c.App.Writer, "canceled %v\n", was)
					}
					return err
				})},
			{Name: "get", Usage: "tar the given paths of the work dir of KEY to stdout", ArgsUsage: "PATH...", Flags: []cli.Flag{dir, key},
				Action: withAgent(func(c *cli.Context, a remote.Agent) error {
					return a.Get(c.String("key"), c.Args().Slice(), c.App.Writer)
				})},
		},
	}
}

// boardOptions are the flags of `run --on`.
type boardOptions struct {
	// On are the --on values, [ARCH=]ssh://USER@HOST[:PORT].
	On []string
	remote.DialOptions
	// BoardDir is --board-dir.
	BoardDir string
	// FetchOutputs are paths of the board's work dir to bring back.
	FetchOutputs []string
}

// boardFlags are the flags of `run --on`.
func boardFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "on", Usage: "run on the board at `ADDR`, [ARCH=]ssh://USER@HOST[:PORT], detached; reattaches after a dropped link (repeatable: boards run in parallel; see docs/boards.md)"},
		&cli.StringFlag{Name: "known-hosts", Usage: "with --on, trust the host keys in `FILE`", DefaultText: "~/.ssh/known_hosts"},
		&cli.BoolFlag{Name: "accept-new", Usage: "with --on, add an unknown board's host key to the known hosts (a changed key is refused)"},
		&cli.StringFlag{Name: "identity", Usage: "with --on, log in with the private key `FILE`", DefaultText: "the keys of $SSH_AUTH_SOCK"},
		&cli.StringFlag{Name: "board-dir", Usage: "with --on, the board's `DIR` for binaries, cache and work dirs", DefaultText: "~/" + remote.DefaultBoardDir},
		&cli.StringSliceFlag{Name: "fetch-outputs", Usage: "with --on, bring back `PATH` of the board's work dir (repeatable)"},
	}
}

// boardOptionsFrom reads boardFlags.
func boardOptionsFrom(c *cli.Context) boardOptions {
	return boardOptions{On: c.StringSlice("on"), BoardDir: c.String("board-dir"), FetchOutputs: c.StringSlice("fetch-outputs"),
		DialOptions: remote.DialOptions{KnownHosts: c.String("known-hosts"), AcceptNew: c.Bool("accept-new"), Identity: c.String("identity")}}
}

// given reports whether any flag of boardFlags was given.
func (b boardOptions) given() bool {
	return len(b.On) > 0 || b.KnownHosts != "" || b.AcceptNew || b.Identity != "" || b.BoardDir != "" || len(b.FetchOutputs) > 0
}

// runOnBoards runs the recipe on the --on boards (remote.Run) and prints
// a line per board at the end.
func runOnBoards(ctx context.Context, o runOptions, out io.Writer, path string) error {
	if len(o.Boards.On) == 0 {
		return &usageError{"--known-hosts, --accept-new, --identity, --board-dir and --fetch-outputs are for runs on a board: add --on ssh://USER@HOST"}
	}
	if o.WorkDir != "" || o.Target != "" || o.Executor.Emulating() || len(o.Check) > 0 {
		return &usageError{"--on runs in the board's own work dir, for the board's architecture (or ARCH= before ssh://): drop --workdir, --target, --emulate, --rootfs and --check"}
	}
	// The shared build cache is not forwarded to a board yet: refuse
	// rather than run without the cache the porter asked for.
	if c := o.BuildCache; len(c.From) > 0 || c.To != "" || len(c.Trust) > 0 {
		return &usageError{"--on does not take --cache-from, --cache-to or --trust yet: run on the board without them, or push from here"}
	}
	cfg := remote.RunConfig{Recipe: path, Dial: o.Boards.DialOptions, BoardDir: o.Boards.BoardDir, Selection: o.Selection,
		FetchOutputs: o.Boards.FetchOutputs, Cache: o.sourceOptions.Cache, Sources: o.SourceConfig, Out: out}
	for _, on := range o.Boards.On {
		spec, err := remote.ParseOn(on)
		if err != nil {
			return &usageError{err.Error()}
		}
		cfg.Boards = append(cfg.Boards, spec)
	}
	cfg.RunArgs = o.boardRunArgs()
	results, err := remote.Run(ctx, cfg)
	for _, r := range results {
		if r.Code >= 0 {
			fmt.Fprintf(out, "%s: %s exit %d, %d reattach(es), results in %s\n", r.Board, r.Target, r.Code, r.Reattached, r.Fetched)
		}
	}
	return err
}

// boardRunArgs are the flags of this run that the board's run takes too.
func (o runOptions) boardRunArgs() []string {
	var a []string
	add := func(flag string, vals ...string) {
		for _, v := range vals {
			a = append(a, flag, v)
		}
	}
	if o.From != "" {
		add("--from", o.From)
	}
	if o.To != "" {
		add("--to", o.To)
	}
	add("--only", o.Only...)
	add("--force", o.Force...)
	for flag, on := range map[string]bool{"--force-all": o.ForceAll, "--keep-going": o.KeepGoing, "--dry-run": o.DryRun,
		"--verbose": o.Verbose, "--skip-doctor": o.SkipDoctor, "--offline": o.Offline, "--no-sandbox": o.Executor.NoSandbox} {
		if on {
			a = append(a, flag)
		}
	}
	if o.Jobs > 0 {
		add("--jobs", fmt.Sprint(o.Jobs))
	}
	return a
}
