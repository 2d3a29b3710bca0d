package report

import (
	"html/template"

	"github.com/porterkit/bootstrap/runner/graph"
)

// stateColor is the CSS colour of a step's state cell (the graph's).
func stateColor(s Step) template.CSS { return template.CSS(graph.Color(s.State)) }

// pageTemplate is the report page: inline CSS only, so that it renders
// the same from a file on a board with no network.
const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>bootstrap report: {{.Recipe}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .4em 0; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
.ok { color: #1a7f1a; } .bad { color: #b00020; font-weight: bold; }
svg.timeline text { font: 11px sans-serif; fill: #222; }
svg.timeline .axis { fill: #666; } svg.timeline .lane { fill: #666; }
svg.timeline .tick { stroke: #ddd; }
svg.timeline rect.bar { stroke: #555; stroke-width: .5; }
.meta { color: #555; }
</style></head><body>
<h1>{{.Recipe}}: {{.Main.Name}}</h1>
<p class="meta">work dir <code>{{.Main.WorkDir}}</code>; last run {{if not .Main.Start.IsZero}}{{stamp .Main.Start}}, {{span .Main}}{{else}}none{{end}}; {{.Main.Lanes}} lane(s) ran at once at most; page made {{stamp .Generated}} by <code>bootstrap report</code></p>

<h2>Timeline of the last run</h2>
{{timeline .Main}}

<h2>Steps</h2>
<table class="steps">
<tr><th>step</th><th>state</th><th>last run</th><th>exit</th><th>wall</th><th>CPU</th><th>log</th><th>why</th></tr>
{{range .Main.Steps}}<tr class="step"><td><code>{{.ID}}</code></td><td style="background: {{color .}}">{{.State}}</td><td>{{.Outcome}}</td><td class="n">{{.Exit}}</td><td class="n">{{dur .Wall}}</td><td class="n">{{dur .CPU}}</td><td>{{if .LogHref}}<a href="{{url .LogHref}}">log</a>{{end}}</td><td>{{.Why}}</td></tr>
{{end}}</table>

{{with .Against}}
<h2>Side by side</h2>
<p class="meta">Wall and CPU time of each step's last success; the ratio is {{$.Main.Name}}'s CPU time over the other's.</p>
<table class="compare">
<tr><th rowspan="2">step</th><th colspan="2">{{$.Main.Name}}</th>{{range .}}<th colspan="3">{{.Name}}</th>{{end}}</tr>
<tr><th>wall</th><th>CPU</th>{{range .}}<th>wall</th><th>CPU</th><th>CPU ratio</th>{{end}}</tr>
{{range compare}}<tr{{if eq .ID "total"}} class="total"{{end}}><td><code>{{.ID}}</code></td><td class="n">{{dur .Main.Wall}}</td><td class="n">{{dur .Main.CPU}}</td>{{range .Others}}<td class="n">{{dur .Step.Wall}}</td><td class="n">{{dur .Step.CPU}}</td><td class="n">{{.Ratio}}</td>{{end}}</tr>
{{end}}</table>
{{end}}

<h2>Provenance</h2>
{{with .Main.Record}}
<p>record <code>{{.Path}}</code>: <span class="{{if .SignatureOK}}ok{{else}}bad{{end}}">{{.Signature}}</span></p>
{{with .Problems}}<ul>{{range .}}<li class="bad">{{.}}</li>{{end}}</ul>{{end}}
<p class="meta">target {{.Target}}; builder {{.Builder}}</p>
<h3>Built ({{len .Subjects}})</h3>
<table><tr><th>subject</th><th>digest</th></tr>
{{range .Subjects}}<tr><td><code>{{.Name}}</code></td><td class="mono">{{.Digest}}</td></tr>
{{end}}</table>
<h3>From ({{len .Sources}})</h3>
<table><tr><th>source</th><th>where</th><th>digest</th></tr>
{{range .Sources}}<tr><td><code>{{.Name}}</code></td><td class="mono">{{.URI}}</td><td class="mono">{{.Digest}}</td></tr>
{{end}}</table>
{{with .Packages}}<details><summary>Debian packages of the host and the root file system ({{len .}})</summary>
<table><tr><th>package</th><th>package URL</th><th>digest</th></tr>
{{range .}}<tr><td><code>{{.Name}}</code></td><td class="mono">{{.URI}}</td><td class="mono">{{.Digest}}</td></tr>
{{end}}</table></details>{{end}}
{{else}}<p>No provenance record: <code>bootstrap run</code> writes one when a run ends.</p>{{end}}
</body></html>
`
