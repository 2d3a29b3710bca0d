// Package clidoc writes what a shell and man(1) need from a urfave/cli
// app's command definitions: completion scripts for bash, zsh and fish,
// and the manual page, so that neither can drift from --help.
package clidoc

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask the binary itself what may come next:
// urfave/cli answers `bootstrap ARGS... --generate-bash-completion` with the
// commands, subcommands or flags that fit (EnableBashCompletion). When it
// has nothing to offer (a RECIPE operand), the shell completes file names.
var (
	//go:embed bootstrap.bash
	bashCompletion string
	//go:embed bootstrap.zsh
	zshCompletion string
)

// ErrUnknownShell is returned by Completion for a shell it has no script for.
var ErrUnknownShell = errors.New("no completion for shell")

// Completion writes the completion script for shell; app must not have
// run yet (urfave/cli's Setup adds --help, and the fish generator adds it
// again).
func Completion(app *cli.App, out io.Writer, shell string) error {
	switch shell {
	case "bash":
		_, err := io.WriteString(out, bashCompletion)
		return err
	case "zsh":
		_, err := io.WriteString(out, zshCompletion)
		return err
	case "fish":
		// urfave/cli generates fish's from the command definitions.
		s, err := app.ToFishCompletion()
		if err != nil {
			return fmt.Errorf("fish completion: %w", err)
		}
		_, err = io.WriteString(out, s)
		return err
	}
	return fmt.Errorf("%w %q", ErrUnknownShell, shell)
}

// Man is the app's manual page in section 1, in ASCII roff.
func Man(app *cli.App) (string, error) {
	s, err := app.ToManWithSection(1)
	if err != nil {
		return "", fmt.Errorf("man page: %w", err)
	}
	return roffASCII(s), nil
}

// roffASCII makes a roff page ASCII: man and groff read a page as Latin-1
// unless told otherwise, and a "…" in a usage line then comes out as
// garbage. The characters the help uses become their ASCII spelling (which
// renders in any locale); any other becomes a \[uXXXX] escape.
func roffASCII(s string) string {
	spell := map[rune]string{'…': "...", '→': "->", '—': "--", '–': "-", '‘': "'", '’': "'", '“': `"`, '”': `"`}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case spell[r] != "":
			b.WriteString(spell[r])
		default:
			fmt.Fprintf(&b, "\\[u%04X]", r)
		}
	}
	return b.String()
}
