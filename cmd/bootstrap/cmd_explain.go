package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "say what changed since a step's checkpoint, input by input",
		ArgsUsage: "RECIPE STEP",
		Flags:     planCacheFlags(),
		Action: func(c *cli.Context) error {
			a, err := args(c, 2, 2, "RECIPE STEP")
			if err != nil {
				return err
			}
			return runExplain(c.Context, planOptionsFrom(c), c.App.Writer, a[0], a[1])
		},
	}
}

// runExplain prints a step's state and every input that changed since its
// checkpoint; a changed command is shown as a line diff.
func runExplain(ctx context.Context, o planOptions, out io.Writer, path, step string) error {
	s, err := o.open(ctx, path)
	if err != nil {
		return err
	}
	st, err := s.Status(step)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s\n", st.Step.ID, st.State)
	if st.Checkpoint != nil {
		cpu := ""
		if st.Checkpoint.CPUSeconds > 0 {
			cpu = fmt.Sprintf(" (CPU %.1fs)", st.Checkpoint.CPUSeconds)
		}
		fmt.Fprintf(out, "  last finished %s in %.1fs%s\n", st.Checkpoint.Finished.Format("2006-01-02 15:04:05 UTC"), st.Checkpoint.Seconds, cpu)
	}
	for _, r := range st.Reasons {
		fmt.Fprintf(out, "  - %s\n", r)
	}
	for _, c := range st.Changes {
		fmt.Fprintf(out, "\n%s:\n", c.Key)
		switch {
		case c.Key == "script" && !c.Added && !c.Removed:
			for _, l := range lineDiff(c.Old, c.New) {
				fmt.Fprintf(out, "  %s\n", l)
			}
		case c.Key == executor.InputRootfsPackages:
			// Hundreds of lines: only the packages that differ.
			for _, l := range runner.PackageChanges(c.Old, c.New) {
				fmt.Fprintf(out, "  %s\n", l)
			}
		default:
			if !c.Added {
				fmt.Fprintf(out, "  was: %s\n", indent(c.Old))
			}
			if !c.Removed {
				fmt.Fprintf(out, "  now: %s\n", indent(c.New))
			}
		}
	}
	return nil
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n       ") }

// lineDiff is a minimal line diff (longest common subsequence), enough to
// show which lines of a script changed.
func lineDiff(a, b string) []string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out = append(out, "  "+x[i])
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+x[i])
			i++
		default:
			out = append(out, "+ "+y[j])
			j++
		}
	}
	return out
}
