// Package cliargs puts a command line in the order urfave/cli v2 parses:
// flags may follow operands, as with git, go and docker (`doctor RECIPE
// --install`, `cache add-git DIR --url URL v1.10.2`), but v2 parses a
// command's flags with the standard flag package, which stops at the first
// operand. (urfave/cli v3 does this itself, but changes every command's
// signature and the context type; one function here is the smaller step.)
package cliargs

import (
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
