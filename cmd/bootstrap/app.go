package main

import (
	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/cmd/internal/cliargs"
)

// newApp builds the command-line interface. Each command lives in its own
// cmd_<name>.go file and is listed here; conventions every command shares
// (flag checks, unknown commands, help) are added by cliargs.Conventions.
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
			k8sJobCommand(),
			patchCommand(),
			recordCommand(),
			graphCommand(),
			reportCommand(),
			completionCommand(),
			manCommand(),
			boardCommand(),
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
				return cliargs.UnknownCommand("", c.App.Commands, c.Args().Slice())
			}
			return cli.ShowAppHelp(c)
		},
	}
	cliargs.Conventions(app, checkFlags)
	return app
}
