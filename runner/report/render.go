package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/runner/progress"
)

// Page is everything one report shows.
type Page struct {
	// Recipe names the recipe; Generated is when the page was made.
	Recipe    string
	Generated time.Time
	Main      *Run
	// Against are the work dirs compared with Main (--against).
	Against []*Run
}

// compareRow is one step in the side-by-side table: Main's times, then
// each other work dir's with Main's CPU time over theirs.
type compareRow struct {
	ID     string
	Main   Step
	Others []compareCell
}

// compareCell is one other work dir's times for a step.
type compareCell struct {
	Step  Step
	Ratio string
}

// comparison is the side-by-side table, in Main's step order, with a
// total row last.
func (p *Page) comparison() []compareRow {
	var rows []compareRow
	total := compareRow{ID: "total"}
	others := make([]map[string]Step, len(p.Against))
	totals := make([]Step, len(p.Against))
	for i, a := range p.Against {
		others[i] = map[string]Step{}
		for _, s := range a.Steps {
			others[i][s.ID] = s
		}
	}
	for _, s := range p.Main.Steps {
		row := compareRow{ID: s.ID, Main: s}
		total.Main.Wall += s.Wall
		total.Main.CPU += s.CPU
		for i := range p.Against {
			o := others[i][s.ID]
			totals[i].Wall += o.Wall
			totals[i].CPU += o.CPU
			row.Others = append(row.Others, compareCell{Step: o, Ratio: ratio(s.CPU, o.CPU)})
		}
		rows = append(rows, row)
	}
	for i := range p.Against {
		total.Others = append(total.Others, compareCell{Step: totals[i], Ratio: ratio(total.Main.CPU, totals[i].CPU)})
	}
	return append(rows, total)
}

// ratio is a/b as "×N.N", "" when either is unknown.
func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return ""
	}
	return fmt.Sprintf("×%.1f", float64(a)/float64(b))
}

// dur is a duration for the tables, "-" for none.
func dur(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return progress.Round(d)
}

// Write renders the page as one HTML document to out. It returns the
// template's or the writer's error.
func Write(out io.Writer, p *Page) error {
	t, err := template.New("report").Funcs(template.FuncMap{
		"dur":      dur,
		"timeline": func(r *Run) template.HTML { return template.HTML(Timeline(r)) }, // our own escaped SVG
		"compare":  func() []compareRow { return p.comparison() },
		"stamp":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"span":     func(r *Run) string { return dur(r.End.Sub(r.Start)) },
		"color":    stateColor,
		"url":      func(s string) template.URL { return template.URL(s) }, // built by href from a file path
	}).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	if err := t.Execute(out, p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteMarkdown writes the side-by-side table (the page's comparison: each
// step's wall and CPU time in Main and in every Against run, with Main's
// CPU time over theirs) as one GitHub-flavoured Markdown table, the form
// docs/ keeps such measurements in. It returns the writer's error.
func WriteMarkdown(out io.Writer, p *Page) error {
	var b strings.Builder
	b.WriteString("| step | " + mdCell(p.Main.Name) + " wall | CPU |")
	sep := "| --- | --: | --: |"
	for _, a := range p.Against {
		b.WriteString(" " + mdCell(a.Name) + " wall | CPU | CPU ratio |")
		sep += " --: | --: | --: |"
	}
	b.WriteString("\n" + sep + "\n")
	for _, row := range p.comparison() {
		id := row.ID
		if id == "total" {
			id = "**total**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |", id, dur(row.Main.Wall), dur(row.Main.CPU))
		for _, c := range row.Others {
			fmt.Fprintf(&b, " %s | %s | %s |", dur(c.Step.Wall), dur(c.Step.CPU), c.Ratio)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(out, b.String())
	return err
}

// mdCell keeps a label from breaking a Markdown table row.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
