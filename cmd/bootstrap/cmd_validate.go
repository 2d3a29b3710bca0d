package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check recipes without running anything; problems are printed as file:line:col",
		ArgsUsage: "RECIPE...",
		Description: "Each recipe is loaded and compiled for every target it lists. Exit 2 when any\n" +
			"problem is found.\n\n" +
			"--json prints one object instead (problems and all, still exit 2 when any):\n" +
			"  {\"ok\": false, \"problems\": 1, \"recipes\": [\n" +
			"    {\"file\": \"recipes/a.yaml\", \"ok\": true, \"problems\": []},\n" +
			"    {\"file\": \"recipes/b.yaml\", \"ok\": false, \"problems\": [\n" +
			"      {\"file\": \"recipes/b.yaml\", \"line\": 7, \"col\": 9, \"component\": \"go\",\n" +
			"       \"step\": \"make\", \"message\": \"unknown key \\\"rn\\\"\"}]}]}\n" +
			"line and col are 0 when a problem has no place in the file (a missing recipe);\n" +
			"component and step are \"\" outside one.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the result as JSON (shape above)"}},
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, -1, "RECIPE...")
			if err != nil {
				return err
			}
			return runValidate(c.Context, c.App.Writer, c.App.ErrWriter, a, c.Bool("json"))
		},
	}
}

// runValidate validates each recipe (plan.ValidateAll) and prints "ok" or
// every problem, or with asJSON the report as JSON. It returns an
// *invalidError (exit 2) when any recipe has problems.
func runValidate(_ context.Context, out, errOut io.Writer, paths []string, asJSON bool) error {
	host, _ := arch.DetectHost()
	rep := plan.ValidateAll(paths, host)
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
	}
	for _, r := range rep.Recipes {
		switch {
		case asJSON:
		case r.OK:
			fmt.Fprintf(out, "%s: ok\n", r.File)
		default:
			for _, e := range r.Errors {
				fmt.Fprintln(errOut, e)
			}
		}
	}
	if !rep.OK {
		return &invalidError{n: rep.Problems}
	}
	return nil
}

// invalidError says how many problems validate printed (exit 2).
type invalidError struct{ n int }

func (e *invalidError) Error() string { return fmt.Sprintf("%d problem(s) found", e.n) }
