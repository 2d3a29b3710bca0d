package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/cmd/internal/clidoc"
)

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
			if err := clidoc.Completion(newApp(), c.App.Writer, a[0]); errors.Is(err, clidoc.ErrUnknownShell) {
				return &usageError{fmt.Sprintf("%v: bootstrap completion bash|zsh|fish", err)}
			} else if err != nil {
				return err
			}
			return nil
		},
	}
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
			s, err := clidoc.Man(c.App)
			if err == nil {
				_, err = io.WriteString(c.App.Writer, s)
			}
			return err
		},
	}
}
