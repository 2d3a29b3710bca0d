package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask the binary itself what may come next:
// urfave/cli answers `bootstrap ARGS... --generate-bash-completion` with the
// commands, subcommands or flags that fit (EnableBashCompletion). When it
// has nothing to offer (a RECIPE operand), the shell completes file names.

// bashCompletion is the script `bootstrap completion bash` prints.
const bashCompletion = `# bash completion for bootstrap.
# Load it with:  source <(bootstrap completion bash)
# or install it: bootstrap completion bash > /etc/bash_completion.d/bootstrap
_bootstrap_complete() {
    local cur="${COMP_WORDS[COMP_CWORD]}" opts
    local -a words=("${COMP_WORDS[@]:0:COMP_CWORD}")
    if [[ "$cur" == -* ]]; then
        opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
    else
        opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
    fi
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _bootstrap_complete bootstrap
`

// zshCompletion is the script `bootstrap completion zsh` prints.
const zshCompletion = `#compdef bootstrap
# zsh completion for bootstrap.
# Load it with:  source <(bootstrap completion zsh)
# or install it as _bootstrap in a directory of $fpath.
_bootstrap() {
    local -a opts
    local cur=${words[CURRENT]}
    if [[ "$cur" == -* ]]; then
        opts=("${(@f)$(${words[1,CURRENT-1]} $cur --generate-bash-completion 2>/dev/null)}")
    else
        opts=("${(@f)$(${words[1,CURRENT-1]} --generate-bash-completion 2>/dev/null)}")
    fi
    if [[ -n "${opts[1]}" ]]; then
        compadd -a opts
    else
        _files
    fi
}
if [[ "${funcstack[1]}" == "_bootstrap" ]]; then
    _bootstrap "$@"
else
    compdef _bootstrap bootstrap
fi
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "bash:  source <(bootstrap completion bash)   (or save it in /etc/bash_completion.d/bootstrap)\n" +
			"zsh:   source <(bootstrap completion zsh)    (or save it as _bootstrap in a directory of $fpath)\n" +
			"fish:  bootstrap completion fish > ~/.config/fish/completions/bootstrap.fish\n" +
			"Commands, subcommands and flags are completed; recipes as file names.",
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "bash|zsh|fish")
			if err != nil {
				return err
			}
			return runCompletion(newApp(), c.App.Writer, a[0])
		},
	}
}

// runCompletion writes the completion script for shell; app must not have
// run yet (urfave/cli's Setup adds --help, and the fish generator adds it
// again). It returns a usage error for a shell it has no script for.
func runCompletion(app *cli.App, out io.Writer, shell string) error {
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
	return &usageError{fmt.Sprintf("no completion for shell %q: bootstrap completion bash|zsh|fish", shell)}
}

// manCommand prints the manual page, generated from the command
// definitions so that it cannot drift from --help (`make man`).
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the manual page (roff) generated from the command definitions",
		Hidden: true,
		Action: func(c *cli.Context) error {
			if _, err := args(c, 0, 0, ""); err != nil {
				return err
			}
			s, err := c.App.ToManWithSection(1)
			if err != nil {
				return fmt.Errorf("man page: %w", err)
			}
			_, err = io.WriteString(c.App.Writer, roffASCII(s))
			return err
		},
	}
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
