package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/graph"
)

// graphOptions are the flags of `bootstrap graph`.
type graphOptions struct {
	planOptions
	// SVG renders the graph through Graphviz's dot instead of printing DOT.
	SVG bool
	// Output is the file to write (an .svg name implies SVG); "" is stdout.
	Output string
}

func graphCommand() *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "the step graph as Graphviz DOT (or SVG): components as clusters, steps coloured by state, needs as edges",
		ArgsUsage: "RECIPE",
		Description: "Green done, amber stale (the reason on the node and in its tooltip), grey pending, red failed,\n" +
			"blue running, purple interrupted. --svg (or -o FILE.svg) renders through Graphviz's dot\n" +
			"(apt-get install graphviz); without it: bootstrap graph RECIPE | dot -Tpng > graph.png.",
		Flags: append(planCacheFlags(),
			&cli.BoolFlag{Name: "svg", Usage: "render SVG with Graphviz's dot"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (FILE.svg implies --svg)", DefaultText: "stdout"},
		),
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "RECIPE")
			if err != nil {
				return err
			}
			o := graphOptions{planOptions: planOptionsFrom(c), SVG: c.Bool("svg"), Output: c.String("output")}
			return runGraph(c.Context, o, c.App.Writer, a[0])
		},
	}
}

// runGraph writes the recipe's step graph as DOT or SVG to out or to
// o.Output. It returns recipe, checkpoint and rendering errors.
func runGraph(ctx context.Context, o graphOptions, out io.Writer, path string) error {
	cfg := o.config(path)
	cfg.Native = true // as plan: the states run would see
	s, err := runner.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	sts, err := s.Statuses()
	if err != nil {
		return err
	}
	var dot bytes.Buffer
	if err := graph.WriteDOT(&dot, s.Plan().Recipe.Name.Value, sts); err != nil {
		return err
	}
	data := dot.Bytes()
	if o.SVG || strings.HasSuffix(o.Output, ".svg") {
		if data, err = graph.SVG(ctx, data); err != nil {
			return err
		}
	}
	if o.Output == "" {
		_, err = out.Write(data)
		return err
	}
	if err := os.WriteFile(o.Output, data, 0o644); err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	return nil
}
