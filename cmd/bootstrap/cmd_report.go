package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner/report"
)

// reportOptions are the flags of `bootstrap report`.
type reportOptions struct {
	planOptions
	// Against are other work dirs of the same recipe to compare with.
	Against []string
	// Output is the HTML file to write.
	Output string
	// Markdown prints the side-by-side table instead (report.WriteMarkdown).
	Markdown bool
}

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "one self-contained HTML page of the work dir: the last run as a timeline, the steps, the provenance; --against DIR side by side",
		ArgsUsage: "RECIPE",
		Description: "The page has no script, font or link to the network: it opens from a file in any browser.\n" +
			"Each step of the last run is a bar from its start to its end (lanes: what ran at the same time);\n" +
			"steps that did not run this time are marked below it. --against DIR (repeatable) adds another\n" +
			"work dir of the same recipe (an emulated run's, last week's) with its wall and CPU times and\n" +
			"the CPU ratio per step. The signature is checked with bootstrap's own key. See docs/report.md.",
		Flags: append(planCacheFlags(),
			&cli.StringSliceFlag{Name: "against", Usage: "compare with the work `DIR` of another run of the recipe (repeatable)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the page to `FILE`", Value: "report.html"},
			&cli.BoolFlag{Name: "markdown", Usage: "print the side-by-side table as Markdown instead of writing the page (for docs/)"},
		),
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "RECIPE")
			if err != nil {
				return err
			}
			o := reportOptions{planOptions: planOptionsFrom(c), Against: c.StringSlice("against"), Output: c.String("output"),
				Markdown: c.Bool("markdown")}
			return runReport(c.Context, o, c.App.Writer, a[0])
		},
	}
}

// runReport writes the recipe's work dir's report to o.Output and prints
// its path. It returns recipe, checkpoint and write errors; a record that
// does not verify is shown in the page.
func runReport(ctx context.Context, o reportOptions, out io.Writer, path string) error {
	s, err := o.open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	sts, err := s.Statuses()
	if err != nil {
		return err
	}
	dest, err := filepath.Abs(o.Output)
	if err != nil {
		return err
	}
	p := s.Plan()
	page := &report.Page{Recipe: p.Recipe.Name.Value, Generated: time.Now(),
		Main: report.FromStatuses(ctx, label(p.Target, o.Executor.Emulate), p.WorkDir, filepath.Dir(dest), sts)}
	for _, dir := range o.Against {
		r, err := report.FromWorkDir(dir, dir, filepath.Dir(dest), p)
		if err != nil {
			return fmt.Errorf("--against %s: %w", dir, err)
		}
		page.Against = append(page.Against, r)
	}
	if o.Markdown {
		return report.WriteMarkdown(out, page)
	}
	var b bytes.Buffer
	if err := report.Write(&b, page); err != nil {
		return err
	}
	if err := os.WriteFile(dest, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintln(out, dest)
	return nil
}

// label names the work dir in the page: its target, and how it ran.
func label(target string, emulated bool) string {
	if emulated {
		return target + " (emulated)"
	}
	return target
}
