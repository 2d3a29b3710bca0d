package main

import (
	"github.com/urfave/cli/v2"
)

// newApp builds the command-line interface. Each command lives in its own
// cmd_<name>.go file and is listed here.
func newApp() *cli.App {
	return &cli.App{
		Name:                 "bootstrap",
		Usage:                "build toolchains and container engines from source, resumably",
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // main maps errors to exit codes
		Description: "Exit codes: 0 success, 1 a step failed, 2 bad usage or invalid recipe, " +
			"3 the work dir is locked by another run, 130/143 interrupted by SIGINT/SIGTERM (the message names the step).",
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
		},
		// --version is a flag of our own rather than urfave/cli's, whose
		// printer is a package variable; it prints the same builder
		// version and VCS revision as the provenance record.
		HideVersion: true,
		Flags:       []cli.Flag{&cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print bootstrap's version and VCS revision"}},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				printVersion(c.App.Writer)
				return nil
			}
			return cli.ShowAppHelp(c)
		},
	}
}
