package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGraphParsedByDot checks `bootstrap graph` on the fixture chain
// against Graphviz itself: dot parses the DOT (dot -Tsvg exits 0) and
// draws one node per step and one edge per dependency; --svg, with a step
// stale after an edit, carries the reason into the drawing, and without
// dot on PATH says how to install it.
func TestGraphParsedByDot(t *testing.T) {
	if _, err := exec.LookPath("dot"); err != nil {
		t.Skip("Graphviz's dot is not installed (scripts/deps.sh test installs graphviz)")
	}
	dir := copyFixture(t, "chain")
	if r := bs(t, dir, "run", "chain.yaml"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	edit(t, filepath.Join(dir, "chain.yaml"), "> message.rot", "| tr -d '\\r' > message.rot")
	r := bs(t, dir, "graph", "chain.yaml")
	if r.code != 0 {
		t.Fatalf("graph: exit %d\n%s", r.code, r.stderr)
	}
	// The chain: 7 steps; edges fetch→patch→build, fetch→patch→make,
	// build→make, make→summarise.
	const steps, deps = 7, 6
	dot := exec.Command("dot", "-Tsvg")
	dot.Stdin = strings.NewReader(r.stdout)
	svg, err := dot.Output()
	if err != nil {
		t.Fatalf("dot -Tsvg rejects the graph: %v\n%s", err, r.stdout)
	}
	if n := strings.Count(string(svg), `class="node`); n != steps {
		t.Errorf("dot drew %d nodes, want %d\n%s", n, steps, r.stdout)
	}
	if n := strings.Count(string(svg), `class="edge"`); n != deps {
		t.Errorf("dot drew %d edges, want %d\n%s", n, deps, r.stdout)
	}
	for _, want := range []string{`"data:make" [label="make\nstale: command changed"`, `"tool:build" -> "data:make";`, `subgraph cluster_2 {`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("graph lacks %s:\n%s", want, r.stdout)
		}
	}
	out := filepath.Join(dir, "g.svg")
	if r := bs(t, dir, "graph", "chain.yaml", "-o", out); r.code != 0 {
		t.Fatalf("graph -o g.svg: exit %d\n%s", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(out); !strings.Contains(string(data), "<svg") || !strings.Contains(string(data), "stale: command changed") {
		t.Errorf("graph -o g.svg wrote no SVG with the stale reason:\n%.400s", data)
	}
	// Without dot, --svg says how to get it.
	r = bsEnv(t, dir, []string{"PATH=" + t.TempDir()}, "graph", "chain.yaml", "--svg")
	if r.code == 0 || !strings.Contains(r.stderr, "apt-get install graphviz") {
		t.Errorf("graph --svg without dot: exit %d\n%s", r.code, r.stderr)
	}
}

// TestReportInBrowser renders the report of a real run of the fixture
// chain, compared with a second work dir, and loads it in headless
// Chromium from the file: the DOM has one timeline bar per step and the
// side-by-side table a row per step and a total; a screenshot is kept in
// testdata/out. After a partial rerun, the steps not run are marked apart.
func TestReportInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (scripts/deps.sh test installs it): the report is not checked in a browser")
	}
	dir := copyFixture(t, "chain")
	other := filepath.Join(dir, "other")
	for _, args := range [][]string{{"run", "chain.yaml"}, {"run", "chain.yaml", "--workdir", other}} {
		if r := bs(t, dir, args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	page := filepath.Join(dir, "out", "report.html")
	os.MkdirAll(filepath.Dir(page), 0o755)
	r := bs(t, dir, "report", "chain.yaml", "--against", other, "-o", page)
	if r.code != 0 || strings.TrimSpace(r.stdout) != page {
		t.Fatalf("report: exit %d, printed %q\n%s", r.code, r.stdout, r.stderr)
	}
	html, _ := os.ReadFile(page)
	for _, bad := range []string{"<script", "https://", "@import", "url(", "<link"} {
		if strings.Contains(string(html), bad) {
			t.Errorf("the page is not self-contained: it has %q", bad)
		}
	}
	// The only http:// is SVG's namespace name, which is never fetched.
	if n, ns := strings.Count(string(html), "http://"), strings.Count(string(html), "http://www.w3.org/2000/svg"); n != ns {
		t.Errorf("the page names %d http:// URLs besides the SVG namespace", n-ns)
	}

	dom := browser(t, chromium, "--dump-dom", "file://"+page)
	bars := regexp.MustCompile(`<rect class="bar [^"]*"`).FindAllString(dom, -1)
	if len(bars) != 7 {
		t.Errorf("the browser's DOM has %d timeline bars, want one per step (7)", len(bars))
	}
	if n := strings.Count(dom, `<tr class="step">`); n != 7 {
		t.Errorf("the step table has %d rows, want 7", n)
	}
	if !strings.Contains(dom, "signed, verifies with bootstrap's key") {
		t.Errorf("the provenance summary does not say the record verifies")
	}
	if !regexp.MustCompile(`<td><code>tool:build</code></td>(<td class="n">[^<]*</td>){4}<td class="n">×[0-9.]+</td>`).MatchString(dom) ||
		!strings.Contains(dom, `<tr class="total">`) {
		t.Errorf("the side-by-side table has no CPU ratio for tool:build or no total row")
	}
	// A log link resolves, relative to the page, to the step's log.
	m := regexp.MustCompile(`<a href="([^"]+)">log</a>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatal("the step table has no log link")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(page), m[1])); err != nil || filepath.IsAbs(m[1]) {
		t.Errorf("log link %q is not a relative path to a log: %v", m[1], err)
	}

	shot, _ := filepath.Abs(filepath.Join("testdata", "out", "report.png"))
	browser(t, chromium, "--screenshot="+shot, "--window-size=1200,1000", "file://"+page)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot of the report: %s", shot)

	// After a run that redid two steps, those two are bars and the five
	// done earlier are marked as not run this time.
	edit(t, filepath.Join(dir, "chain.yaml"), "> message.rot", "| tr -d '\\r' > message.rot")
	if r := bs(t, dir, "run", "chain.yaml"); r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	if r := bs(t, dir, "report", "chain.yaml", "-o", page); r.code != 0 {
		t.Fatalf("report after the rerun: exit %d\n%s", r.code, r.stderr)
	}
	html, _ = os.ReadFile(page)
	if ran, earlier := strings.Count(string(html), `<rect class="bar done"`), strings.Count(string(html), `<rect class="bar earlier"`); ran != 2 || earlier != 5 {
		t.Errorf("after rerunning data:make and report:summarise: %d bars and %d marks, want 2 and 5", ran, earlier)
	}
}

// browser runs headless Chromium with args and returns its standard
// output, failing the test when it fails. Its profile lives in a temp dir
// and everything that would reach the network is off.
func browser(t *testing.T, chromium string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return string(out)
}
