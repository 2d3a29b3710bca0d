package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// newApp builds the command-line interface. Each command lives in its own
// cmd_<name>.go file and is listed here; conventions every command shares
// (flag checks, unknown commands, help) are added by conventions.
func newApp() *cli.App {
	app := &cli.App{
		Name:                 "bootstrap",
		Usage:                "build toolchains and container engines from source, resumably",
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // main maps errors to exit codes
		Description: "Exit codes: 0 success, 1 a step failed, 2 bad usage or invalid recipe " +
			"(a missing recipe, an unknown target or command, a directory that is not a work dir included),\n" +
			"3 the work dir is locked by another run, 130/143 interrupted by SIGINT/SIGTERM (naming the step).\n\n" +
			"Flags may come before or after operands (bootstrap run RECIPE --target arm64); `--` ends them.\n" +
			"`bootstrap help COMMAND` is `bootstrap COMMAND --help`. NO_COLOR or TERM=dumb turn the progress\n" +
			"bar into plain timestamped lines.",
		Commands: []*cli.Command{
			runCommand(),
			planCommand(),
			explainCommand(),
			validateCommand(),
			cleanCommand(),
			logCommand(),
			listCommand(),
			fetchCommand(),
			cacheCommand(),
			pinCommand(),
			archCommand(),
			doctorCommand(),
			patchCommand(),
			recordCommand(),
			completionCommand(),
			manCommand(),
		},
		// --version is a flag of our own rather than urfave/cli's, whose
		// printer is a package variable; it prints the same builder
		// version and VCS revision as the provenance record.
		HideVersion: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print bootstrap's version and VCS revision"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "run: print only failures and the final summary line"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				printVersion(c.App.Writer)
				return nil
			}
			if c.NArg() > 0 {
				return unknownCommand("", c.App.Commands, c.Args().Slice())
			}
			return cli.ShowAppHelp(c)
		},
	}
	app.OnUsageError = usageErr("")
	conventions(app.Commands, "")
	return app
}

// conventions adds to every command, recursively, what porters expect of
// all of them: flag combinations checked before the command runs (see
// checkFlags); a bad flag is one line on stderr, not the command's help on
// stdout; and, for a command made of subcommands, an error for a
// subcommand that does not exist instead of its help and exit 0. parent is
// the command line above cmds ("patch ").
func conventions(cmds []*cli.Command, parent string) {
	for _, cmd := range cmds {
		cmd.OnUsageError = usageErr(parent + cmd.Name)
		// `bootstrap help CMD` is enough (see helpArgs); urfave/cli would
		// otherwise add a help subcommand to every command, offered by
		// completion and shadowing an operand named help.
		cmd.HideHelpCommand = true
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := checkFlags(c); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
		if len(cmd.Subcommands) > 0 && cmd.Action == nil {
			name, subs := cmd.Name, cmd.Subcommands
			cmd.Action = func(c *cli.Context) error {
				if c.NArg() > 0 {
					return unknownCommand(name+" ", subs, c.Args().Slice())
				}
				return cli.ShowSubcommandHelp(c)
			}
		}
		conventions(cmd.Subcommands, parent+cmd.Name+" ")
	}
}

// usageErr turns urfave/cli's flag parsing errors (unknown flag, bad
// value) for command name into a *usageError (exit 2) that says where the
// flags are listed.
func usageErr(name string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		if name == "" {
			return &usageError{fmt.Sprintf("%v; see bootstrap --help", err)}
		}
		return &usageError{fmt.Sprintf("%s: %v; see bootstrap %s --help", name, err, name)}
	}
}

// unknownCommand is the usage error for args that do not start with one of
// cmds; parent is the command they follow ("cache "), suggesting the
// closest names.
func unknownCommand(parent string, cmds []*cli.Command, args []string) error {
	name := args[0]
	if name == "help" && len(args) > 1 {
		return &usageError{fmt.Sprintf("no help for %q: no such command; see bootstrap --help", strings.Join(args[1:], " "))}
	}
	msg := fmt.Sprintf("unknown command %q; see bootstrap %s--help", parent+name, parent)
	if close := closest(name, cmds); len(close) > 0 {
		msg += " (did you mean " + strings.Join(close, " or ") + "?)"
	}
	return &usageError{msg}
}

// closest returns the visible command names that name is a prefix of or
// within two edits of, best first.
func closest(name string, cmds []*cli.Command) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		d := editDistance(name, c.Name)
		if strings.HasPrefix(c.Name, name) {
			d = 0
		}
		if d <= 2 {
			cs = append(cs, cand{c.Name, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for _, c := range cs {
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
