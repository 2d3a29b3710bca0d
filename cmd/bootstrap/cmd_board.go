package main

import (
	"fmt"
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
	agentOf := func(c *cli.Context) (remote.Agent, error) { return remote.NewAgent(c.String("dir")) }
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
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					return a.Have(c.App.Writer)
				}},
			{Name: "put", Usage: "store stdin in the cache if its sha256 matches", Flags: []cli.Flag{dir, sum},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					_, err = a.Put(os.Stdin, c.String("sha256"))
					return err
				}},
			{Name: "adopt", Usage: "check this executable's sha256 and keep it as bin/<sha256>", Flags: []cli.Flag{dir, sum},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					p, err := self()
					if err != nil {
						return err
					}
					return a.Adopt(p, c.String("sha256"))
				}},
			{Name: "unpack", Usage: "replace the recipe dir of KEY with the tar stream on stdin", Flags: []cli.Flag{dir, key},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					return a.Unpack(c.String("key"), os.Stdin)
				}},
			{Name: "start", Usage: "start the run of KEY detached, or name the one going on", ArgsUsage: "RECIPE [RUN FLAGS]",
				Flags: []cli.Flag{dir, key},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					p, err := self()
					if err != nil {
						return err
					}
					if c.NArg() < 1 {
						return &usageError{"usage: bootstrap board start --key KEY RECIPE [RUN FLAGS]"}
					}
					id, attached, err := a.Start(p, c.String("key"), c.Args().First(), c.Args().Tail())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "%s %v\n", id, attached)
					return nil
				}},
			{Name: "supervise", Usage: "run and watch a run (started by start)", Flags: []cli.Flag{dir, key, run},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					p, err := self()
					if err != nil {
						return err
					}
					os.Exit(a.Supervise(p, c.String("key"), c.String("run"), c.Args().Slice()))
					return nil
				}},
			{Name: "attach", Usage: "stream the run's log from an offset until it ends", Flags: []cli.Flag{dir, key, run,
				&cli.Int64Flag{Name: "offset", Usage: "start at byte `N` of the log"}},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					return a.Attach(c.Context, c.String("key"), c.String("run"), c.Int64("offset"), c.App.Writer)
				}},
			{Name: "status", Usage: "the last run of KEY, as JSON", Flags: []cli.Flag{dir, key},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					st, err := a.Status(c.String("key"))
					if err != nil {
						return err
					}
					_, err = c.App.Writer.Write(remote.MarshalStatus(st))
					return err
				}},
			{Name: "cancel", Usage: "end the run of KEY and every process it started", Flags: []cli.Flag{dir, key},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					was, err := a.Cancel(c.String("key"), 5*time.Second)
					if err == nil {
						fmt.Fprintf(c.App.Writer, "canceled %v\n", was)
					}
					return err
				}},
			{Name: "get", Usage: "tar the given paths of the work dir of KEY to stdout", ArgsUsage: "PATH...", Flags: []cli.Flag{dir, key},
				Action: func(c *cli.Context) error {
					a, err := agentOf(c)
					if err != nil {
						return err
					}
					return a.Get(c.String("key"), c.Args().Slice(), c.App.Writer)
				}},
		},
	}
}
