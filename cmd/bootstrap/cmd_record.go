package main

import (
	"context"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner/provenance"
)

// recordOptions are the flags of `bootstrap record`.
type recordOptions struct {
	planOptions
	// JSON prints the file as it is.
	JSON bool
}

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:      "record",
		Usage:     "show the provenance record of the last run (<work>/provenance.json)",
		ArgsUsage: "RECIPE",
		Description: "The record is an in-toto Statement with an SLSA provenance v1 predicate: what was built,\n" +
			"from which sources and patches, on which host, by which bootstrap, and how each step ended.",
		Flags: append(workDirFlags(), &cli.BoolFlag{Name: "json", Usage: "print the record itself"}),
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "RECIPE")
			if err != nil {
				return err
			}
			return runRecord(c.Context, recordOptions{planOptions: planOptionsFrom(c), JSON: c.Bool("json")}, c.App.Writer, a[0])
		},
	}
}

// runRecord prints the record of the recipe's work dir, as a table or as
// JSON; a work dir without one is an error saying how to get one.
func runRecord(_ context.Context, o recordOptions, out io.Writer, path string) error {
	p, err := loadPlan(path, o.planOptions)
	if err != nil {
		return err
	}
	if o.JSON {
		data, err := os.ReadFile(provenance.Path(p.WorkDir))
		if os.IsNotExist(err) {
			_, err = provenance.Read(p.WorkDir) // says how to get one
		}
		if err == nil {
			_, err = out.Write(data)
		}
		return err
	}
	st, err := provenance.Read(p.WorkDir)
	if err != nil {
		return err
	}
	st.WriteSummary(out)
	return nil
}
