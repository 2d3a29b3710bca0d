// Package graph draws a plan's steps as a Graphviz DOT graph (`bootstrap
// graph`): one cluster per component, one node per step coloured by its
// state, one edge per dependency. It writes DOT itself, a format simple
// enough that a library would add more than it saves, and renders SVG
// through Graphviz's own `dot` when it is installed.
package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/porterkit/bootstrap/runner"
)

// Color is the fill colour the graph and the report give a step in state
// s: green done, amber stale, grey pending, red failed, blue running,
// purple interrupted.
func Color(s runner.State) string {
	switch s {
	case runner.Done:
		return "#8fd18f"
	case runner.Stale:
		return "#f5c36b"
	case runner.Pending:
		return "#dddddd"
	case runner.Failed:
		return "#f08080"
	case runner.Running:
		return "#87b5f0"
	case runner.Interrupted:
		return "#c9a0e8"
	}
	return "#ffffff"
}

// WriteDOT writes the statuses (runner.Statuses, in plan order) as a DOT
// digraph named after the recipe. A stale, pending, failed or interrupted
// step carries its first reason as a second label line and all of them as
// its tooltip. It returns the writer's error.
func WriteDOT(out io.Writer, name string, sts []*runner.Status) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "digraph %s {\n", quote(name))
	b.WriteString("  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n")
	b.WriteString("  edge [color=\"#666666\"];\n")
	// Components in the order their first step appears: the plan's order.
	var comps []string
	byComp := map[string][]*runner.Status{}
	for _, st := range sts {
		c := st.Step.Component
		if _, ok := byComp[c]; !ok {
			comps = append(comps, c)
		}
		byComp[c] = append(byComp[c], st)
	}
	for i, c := range comps {
		fmt.Fprintf(&b, "  subgraph cluster_%d {\n    label=%s; style=\"rounded\"; color=\"#999999\";\n", i, quote(c))
		for _, st := range byComp[c] {
			label := st.Step.Name + "\n" + string(st.State)
			tip := string(st.State)
			if st.State != runner.Done && len(st.Reasons) > 0 {
				label += ": " + clip(st.Reasons[0], 40)
				tip += ": " + strings.Join(st.Reasons, "; ")
			}
			fmt.Fprintf(&b, "    %s [label=%s, tooltip=%s, fillcolor=%s, class=%s];\n",
				quote(st.Step.ID), quote(label), quote(tip), quote(Color(st.State)), quote("step "+string(st.State)))
		}
		b.WriteString("  }\n")
	}
	for _, st := range sts {
		for _, d := range st.Step.Deps {
			fmt.Fprintf(&b, "  %s -> %s;\n", quote(d), quote(st.Step.ID))
		}
	}
	b.WriteString("}\n")
	_, err := out.Write(b.Bytes())
	return err
}

// Edges counts the dependency edges WriteDOT draws.
func Edges(sts []*runner.Status) int {
	n := 0
	for _, st := range sts {
		n += len(st.Step.Deps)
	}
	return n
}

// quote is a DOT double-quoted string: backslashes and quotes escaped,
// a newline as DOT's centred line break.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ErrNoDot is returned by SVG when Graphviz is not installed.
var ErrNoDot = errors.New("rendering SVG needs Graphviz's dot: apt-get install graphviz (or print DOT without --svg)")

// SVG renders DOT source to SVG with Graphviz's dot. It returns ErrNoDot
// when dot is not on PATH, and dot's error output when it fails.
func SVG(ctx context.Context, dot []byte) ([]byte, error) {
	path, err := exec.LookPath("dot")
	if err != nil {
		return nil, ErrNoDot
	}
	cmd := exec.CommandContext(ctx, path, "-Tsvg")
	cmd.Stdin = bytes.NewReader(dot)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dot -Tsvg: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}
