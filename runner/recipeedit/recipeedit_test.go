package recipeedit

import (
	"slices"
	"strings"
	"testing"
)

// TestApply checks where queued lines land, in which line ending, and the
// line numbers reported for them.
func TestApply(t *testing.T) {
	type ins struct {
		after int
		lines []string
	}
	for _, tt := range []struct {
		name    string
		in      string
		inserts []ins
		want    string
		lines   []int
	}{
		{"middle and end, queued out of order", "a: 1\nb: 2\nc: 3\n",
			[]ins{{3, []string{"d: 4"}}, {1, []string{"  x: 1", "  y: 2"}}},
			"a: 1\n  x: 1\n  y: 2\nb: 2\nc: 3\nd: 4\n", []int{6, 2}},
		{"same place keeps queue order", "a: 1\n",
			[]ins{{1, []string{"b: 2"}}, {1, []string{"c: 3"}}},
			"a: 1\nb: 2\nc: 3\n", []int{2, 3}},
		{"top of the file", "a: 1\n", []ins{{0, []string{"# head"}}}, "# head\na: 1\n", []int{1}},
		{"no final newline, twice at the end", "a: 1",
			[]ins{{1, []string{"b: 2"}}, {1, []string{"c: 3"}}},
			"a: 1\nb: 2\nc: 3\n", []int{2, 3}},
		{"CRLF", "a: 1\r\nb: 2\r\n", []ins{{1, []string{"x: 0"}}}, "a: 1\r\nx: 0\r\nb: 2\r\n", []int{2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("r.yaml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range tt.inserts {
				f.Insert(in.after, in.lines...)
			}
			got, lines := f.Apply()
			if string(got) != tt.want || !slices.Equal(lines, tt.lines) {
				t.Errorf("got %q, lines %v; want %q, %v", got, lines, tt.want, tt.lines)
			}
		})
	}
}

// TestEndLine: the last line of a value, over folded plain scalars and
// block scalars, but not over the comments and blank lines after it.
func TestEndLine(t *testing.T) {
	const in = `components:
  - name: go
    source:
      url: https://example.org/a
        /folded/on/two/lines.tar.gz
      # a comment about strip
      strip: 1
    env:
      NOTE: |
        first

        # still the scalar
    steps: []
`
	f, err := Parse("r.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Component("go")
	if err != nil {
		t.Fatal(err)
	}
	_, src := Lookup(c, "source")
	urlKey, url := Lookup(src, "url")
	_, env := Lookup(c, "env")
	for _, tt := range []struct {
		name string
		got  int
		want int
	}{
		{"folded url", f.EndLine(url, urlKey.Column), 5},
		{"source mapping", f.EndLine(src, 7), 7},
		{"block scalar", f.EndLine(env, 7), 12},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: EndLine = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"- a\n- b\n":       "r.yaml: not a recipe (no top-level mapping)",
		"a: [\n":           "r.yaml: yaml:",
		"name: x\n":        "r.yaml: no components: list",
		"components: []\n": `r.yaml: no component named "go"`,
	} {
		f, err := Parse("r.yaml", []byte(in))
		if err == nil {
			_, err = f.Component("go")
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}
