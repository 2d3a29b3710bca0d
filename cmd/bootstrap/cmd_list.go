package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

func listCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the recipes in DIR (default ./recipes) with their descriptions",
		ArgsUsage: "[DIR]",
		Action: func(c *cli.Context) error {
			a, err := args(c, 0, 1, "[DIR]")
			if err != nil {
				return err
			}
			dir := "recipes"
			if len(a) == 1 {
				dir = a[0]
			}
			return runList(c.Context, c.App.Writer, dir)
		},
	}
}

// runList prints one line per *.yaml/*.yml recipe: file, name, targets and
// description, or the first problem of an invalid one.
func runList(_ context.Context, out io.Writer, dir string) error {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return fmt.Errorf("no recipes (*.yaml) in %s", dir)
	}
	sort.Strings(files)
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	for _, f := range files {
		r, err := recipe.Load(f)
		if err != nil {
			first := strings.SplitN(err.Error(), "\n", 2)[0]
			fmt.Fprintf(tw, "%s\t(invalid)\t\t%s\n", f, first)
			continue
		}
		var targets []string
		for _, t := range r.Targets {
			targets = append(targets, t.Value)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f, r.Name.Value, strings.Join(targets, ","), r.Description.Value)
	}
	return tw.Flush()
}
