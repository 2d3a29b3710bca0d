package report

import (
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/runner/graph"
	"github.com/porterkit/bootstrap/runner/progress"
)

// Geometry of the timeline, in SVG user units (CSS pixels).
const (
	chartWidth  = 1100 // the whole SVG
	axisLeft    = 60   // lane labels left of it
	laneHeight  = 26
	barHeight   = 20
	chipWidth   = 178 // a "not run this time" mark
	chipsPerRow = 6
)

// Timeline draws the run's last run as SVG: one lane per row of steps that
// ran at the same time, each such step a bar (rect class "bar") from its
// start to its end, labelled when it fits and with its times as a tooltip;
// below, every step that did not run this time as a mark (rect class
// "bar earlier"). Every step of the run is exactly one rect of class bar.
func Timeline(r *Run) string {
	var b strings.Builder
	span := r.End.Sub(r.Start)
	if span <= 0 {
		span = time.Second
	}
	plotW := float64(chartWidth - axisLeft - 10)
	x := func(t time.Time) float64 { return axisLeft + plotW*float64(t.Sub(r.Start))/float64(span) }
	top := 22
	var notRun []Step
	for _, s := range r.Steps {
		if !s.Ran {
			notRun = append(notRun, s)
		}
	}
	rows := (len(notRun) + chipsPerRow - 1) / chipsPerRow
	height := top + r.Lanes*laneHeight + 10
	if rows > 0 {
		height += 24 + rows*laneHeight
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="%d" height="%d" viewBox="0 0 %d %d">`,
		chartWidth, height, chartWidth, height)
	b.WriteString("\n")
	// Time axis: five ticks across the run.
	for i := 0; i <= 4; i++ {
		t := r.Start.Add(span * time.Duration(i) / 4)
		anchor := map[bool]string{true: "end", false: "middle"}[i == 4] // the last label stays inside
		fmt.Fprintf(&b, `<line class="tick" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text class="axis" x="%.1f" y="14" text-anchor="%s">%s</text>`+"\n",
			x(t), top-4, x(t), top+r.Lanes*laneHeight, x(t), anchor, esc(progress.Round(t.Sub(r.Start))))
	}
	for l := 0; l < r.Lanes; l++ {
		fmt.Fprintf(&b, `<text class="lane" x="4" y="%d">lane %d</text>`+"\n", top+l*laneHeight+15, l+1)
	}
	for _, s := range r.Steps {
		if !s.Ran {
			continue
		}
		x0, x1 := x(s.Start), x(s.End)
		w := max(x1-x0, 2)
		y := top + s.Lane*laneHeight
		tip := fmt.Sprintf("%s: %s, wall %s", s.ID, s.Outcome, progress.Round(s.End.Sub(s.Start)))
		if s.CPU > 0 {
			tip += ", CPU " + progress.Round(s.CPU)
		}
		fmt.Fprintf(&b, `<rect class="bar %s" x="%.1f" y="%d" width="%.1f" height="%d" rx="3" fill="%s"><title>%s</title></rect>`+"\n",
			esc(string(s.State)), x0, y, w, barHeight, graph.Color(s.State), esc(tip))
		if label := s.ID; float64(len(label))*6.2+6 < w {
			fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%d">%s</text>`+"\n", x0+3, y+14, esc(label))
		}
	}
	if rows > 0 {
		y0 := top + r.Lanes*laneHeight + 24
		fmt.Fprintf(&b, `<text class="lane" x="4" y="%d">not run this time (done earlier, pending or restored):</text>`+"\n", y0-6)
		for i, s := range notRun {
			cx, cy := 4+(i%chipsPerRow)*(chipWidth+4), y0+(i/chipsPerRow)*laneHeight
			fmt.Fprintf(&b, `<rect class="bar earlier" x="%d" y="%d" width="%d" height="%d" rx="3" fill="%s" fill-opacity="0.45"><title>%s: %s</title></rect>`+"\n",
				cx, cy, chipWidth, barHeight, graph.Color(s.State), esc(s.ID), esc(s.Outcome+", "+string(s.State)))
			fmt.Fprintf(&b, `<text class="label" x="%d" y="%d">%s</text>`+"\n", cx+4, cy+14, esc(clip(s.ID, 27)))
		}
	}
	b.WriteString("</svg>")
	return b.String()
}

// esc escapes text for SVG inside HTML.
func esc(s string) string { return html.EscapeString(s) }

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
