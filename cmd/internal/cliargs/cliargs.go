// Package cliargs gives a urfave/cli v2 app the command-line conventions
// of git and go: unknown commands and flags are one-line usage errors with
// suggestions, `help CMD` is that command's help, and arguments are put in
// the order urfave/cli v2 parses:
// flags may follow operands, as with git, go and docker (`doctor RECIPE
// --install`, `cache add-git DIR --url URL v1.10.2`), but v2 parses a
// command's flags with the standard flag package, which stops at the first
// operand. (urfave/cli v3 does this itself, but changes every command's
// signature and the context type; one function here is the smaller step.)
package cliargs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionFlag is the flag urfave/cli's shell completion appends last.
const completionFlag = "--generate-bash-completion"

// Reorder walks args (args[0] is the program) along app's command tree
// and returns them with every flag that comes after an operand moved, with
// its value when the flag takes one, in front of the operands of its
// command; a global flag written after a command moves in front of the
// command. `--` ends the flags: it is kept, in front of the operands, and
// what follows it is left as it is. `help CMD [SUB]` becomes
// `CMD [SUB] --help`, so that it shows that command's help.
func Reorder(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	rest := append([]string(nil), args[1:]...)
	complete := rest[len(rest)-1] == completionFlag
	if complete {
		// urfave/cli looks for it in the last place only.
		rest = rest[:len(rest)-1]
	}
	if h, ok := helpArgs(app, rest); ok {
		rest = h
	}
	root := level{flags: app.Flags, subs: app.Commands, top: true}
	lv := root.split(rest, nil)
	out := append([]string{args[0]}, lv.flags...)
	out = append(out, lv.global...)
	for s := lv.sub; s != nil; s = s.sub {
		out = append(out, s.name)
		out = append(out, s.flags...)
		lv = s
	}
	out = append(out, lv.operands...)
	if complete {
		out = append(out, completionFlag)
	}
	return out
}

// level is a command's definition as the reordering needs it: its flags
// and its subcommands; top is the app itself.
type level struct {
	flags []cli.Flag
	subs  []*cli.Command
	top   bool
}

// parsed is one command level's arguments, reordered.
type parsed struct {
	name     string
	flags    []string // this level's flags (unknown ones included)
	global   []string // flags of the app found after a command
	operands []string // operands, then "--" and what follows it
	sub      *parsed
}

// split sorts args into this level's flags and operands; the first operand
// that names a subcommand starts the next level. global are the app's own
// flags (none at the top, where they are this level's).
func (l level) split(args []string, global []cli.Flag) *parsed {
	s := &parsed{}
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			// In front of the operands, so that the flag parser takes
			// it as the end of the flags and an operand may start
			// with "-".
			s.operands = append(append([]string{"--"}, operands...), args[i+1:]...)
			return s
		case isFlag(a):
			n := 1
			if takesValue(l.flags, a) || (!defined(l.flags, a) && takesValue(global, a)) {
				n = 2
			}
			if i+n > len(args) {
				n = len(args) - i
			}
			if !defined(l.flags, a) && defined(global, a) {
				s.global = append(s.global, args[i:i+n]...)
			} else {
				s.flags = append(s.flags, args[i:i+n]...)
			}
			i += n - 1
		default:
			if len(operands) == 0 {
				if c := command(l.subs, a); c != nil {
					sub := level{flags: c.Flags, subs: c.Subcommands}
					if l.top {
						global = l.flags
					}
					next := sub.split(args[i+1:], global)
					next.name = a
					s.global = append(s.global, next.global...)
					next.global = nil
					s.sub = next
					// A subcommand's operands come last; this level's
					// flags stay in front of its name.
					return s
				}
				if len(l.subs) > 0 {
					// Not a command of this level: leave the rest as
					// it is for the app to name.
					s.operands = args[i:]
					return s
				}
			}
			operands = append(operands, a)
		}
	}
	s.operands = operands
	return s
}

// isFlag says whether an argument is a flag: "-" alone is an operand
// (standard input).
func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagName is the name in -x, --name or --name=value.
func flagName(a string) (name string, hasValue bool) {
	name = strings.TrimLeft(a, "-")
	name, _, hasValue = strings.Cut(name, "=")
	return name, hasValue
}

// find returns the flag among flags that a names, or nil.
func find(flags []cli.Flag, a string) cli.Flag {
	name, _ := flagName(a)
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func defined(flags []cli.Flag, a string) bool { return find(flags, a) != nil }

// takesValue says whether the flag a names is followed by its value as the
// next argument: not for a bool flag, nor for --name=value.
func takesValue(flags []cli.Flag, a string) bool {
	if _, inline := flagName(a); inline {
		return false
	}
	f := find(flags, a)
	if f == nil {
		return false
	}
	tv, ok := f.(interface{ TakesValue() bool })
	return ok && tv.TakesValue()
}

// command returns the command of cmds named (or aliased) name, or nil.
func command(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// helpArgs turns `help CMD [SUB...]` into `CMD [SUB...] --help`, and
// `help` alone into `--help`. ok is false when args do not start with help
// or name a command that does not exist (the app then says so).
func helpArgs(app *cli.App, args []string) ([]string, bool) {
	if len(args) == 0 || args[0] != "help" {
		return nil, false
	}
	var path []string
	cmds := app.Commands
	for _, a := range args[1:] {
		c := command(cmds, a)
		if c == nil {
			if len(path) > 0 && len(cmds) == 0 {
				break // help run anything: run has no subcommands
			}
			return nil, false
		}
		path = append(path, a)
		cmds = c.Subcommands
	}
	return append(path, "--help"), true
}

// UsageError is a command line that does not fit the app's commands: an
// unknown command, flag or flag value.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Conventions gives app, and every command in it, what porters expect of a
// command line: check (nil for none) runs before each command to refuse
// flag combinations; a bad flag is one line, not the command's help on
// stdout; a command made of subcommands refuses one that does not exist
// instead of printing its help and exiting 0. Every such error is a
// *UsageError.
func Conventions(app *cli.App, check func(*cli.Context) error) {
	if check == nil {
		check = func(*cli.Context) error { return nil }
	}
	app.OnUsageError = usageErr("")
	conventions(app.Commands, "", check)
}

// conventions adds to every command, recursively, what porters expect of
// all of them: flag combinations checked by check before the command runs; a bad flag is one line on stderr, not the command's help on
// stdout; and, for a command made of subcommands, an error for a
// subcommand that does not exist instead of its help and exit 0. parent is
// the command line above cmds ("patch ").
func conventions(cmds []*cli.Command, parent string, check func(*cli.Context) error) {
	for _, cmd := range cmds {
		cmd.OnUsageError = usageErr(parent + cmd.Name)
		// `bootstrap help CMD` is enough (see helpArgs); urfave/cli would
		// otherwise add a help subcommand to every command, offered by
		// completion and shadowing an operand named help.
		cmd.HideHelpCommand = true
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := check(c); err != nil {
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
					return UnknownCommand(name+" ", subs, c.Args().Slice())
				}
				return cli.ShowSubcommandHelp(c)
			}
		}
		conventions(cmd.Subcommands, parent+cmd.Name+" ", check)
	}
}

// usageErr turns urfave/cli's flag parsing errors (unknown flag, bad
// value) for command name into a *UsageError that says where the
// flags are listed.
func usageErr(name string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		if name == "" {
			return &UsageError{Msg: fmt.Sprintf("%v; see bootstrap --help", err)}
		}
		return &UsageError{Msg: fmt.Sprintf("%s: %v; see bootstrap %s --help", name, err, name)}
	}
}

// UnknownCommand is the usage error for args that do not start with one of
// cmds; parent is the command they follow ("cache "), suggesting the
// closest names.
func UnknownCommand(parent string, cmds []*cli.Command, args []string) error {
	name := args[0]
	if name == "help" && len(args) > 1 {
		return &UsageError{Msg: fmt.Sprintf("no help for %q: no such command; see bootstrap --help", strings.Join(args[1:], " "))}
	}
	msg := fmt.Sprintf("unknown command %q; see bootstrap %s--help", parent+name, parent)
	if close := closest(name, cmds); len(close) > 0 {
		msg += " (did you mean " + strings.Join(close, " or ") + "?)"
	}
	return &UsageError{msg}
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
