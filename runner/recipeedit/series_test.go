package recipeedit

import (
	"strings"
	"testing"
)

func TestAddSeries(t *testing.T) {
	const entry = "patches/tool/1.0/series"
	tests := []struct {
		name, in, want string
	}{
		{
			name: "append to a block list",
			in: `components:
  - name: tool   # the tool
    source: {dir: tool}
    patches:
      - file: a.patch
        strip: 2   # odd layout
      # - file: disabled.patch

    steps:
      - name: build
        run: make
  - name: other
`,
			want: `components:
  - name: tool   # the tool
    source: {dir: tool}
    patches:
      - file: a.patch
        strip: 2   # odd layout
      - series: patches/tool/1.0/series
      # - file: disabled.patch

    steps:
      - name: build
        run: make
  - name: other
`,
		},
		{
			name: "indentless list, last component, no final newline",
			in: `components:
- name: x
  steps: []
- name: tool
  patches:
  - file: a.patch`,
			want: `components:
- name: x
  steps: []
- name: tool
  patches:
  - file: a.patch
  - series: patches/tool/1.0/series
`,
		},
		{
			name: "create before steps, keeping its comment",
			in: `components:
  - name: tool
    source:
      dir: tool

    # Build it.
    steps:
        - name: build
          run: make
`,
			want: `components:
  - name: tool
    source:
      dir: tool

    patches:
        - series: patches/tool/1.0/series
    # Build it.
    steps:
        - name: build
          run: make
`,
		},
		{
			name: "create at the end when there are no steps, after a block scalar",
			in: `components:
  - name: tool
    source:
      dir: tool
    outputs:
      - x
    env:
      NOTE: |
        first
# not a comment: part of the scalar? no, it is less indented
  - name: next
    run: |
      echo hi
      # inside the script
`,
			want: `components:
  - name: tool
    source:
      dir: tool
    outputs:
      - x
    env:
      NOTE: |
        first
    patches:
      - series: patches/tool/1.0/series
# not a comment: part of the scalar? no, it is less indented
  - name: next
    run: |
      echo hi
      # inside the script
`,
		},
		{
			name: "CRLF",
			in:   "components:\r\n  - name: tool\r\n    steps:\r\n      - name: b\r\n",
			want: "components:\r\n  - name: tool\r\n    patches:\r\n      - series: patches/tool/1.0/series\r\n    steps:\r\n      - name: b\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AddSeries("r.yaml", []byte(tt.in), "tool", entry)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestAddSeriesBlockScalarLast(t *testing.T) {
	in := `components:
  - name: tool
    steps:
      - name: b
        run: |
          make

          # done
  - name: other
`
	got, err := AddSeries("r.yaml", []byte(in), "tool", "p/series")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(in, "    steps:\n", "    patches:\n      - series: p/series\n    steps:\n", 1)
	if string(got) != want {
		t.Errorf("got:\n%s", got)
	}
	// With steps: first, the entry goes after the script, not into it.
	in = strings.Replace(in, "  - name: tool\n    steps:", "  - steps:", 1)
	in = strings.Replace(in, "  - name: other\n", "    name: tool\n    outputs: [x]\n  - name: other\n", 1)
	got, err = AddSeries("r.yaml", []byte(in), "tool", "p/series")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "    outputs: [x]\n    patches:\n      - series: p/series\n  - name: other\n") {
		t.Errorf("got:\n%s", got)
	}
}

func TestAddSeriesErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown component", "components:\n  - name: a\n", `r.yaml: no component named "tool"`},
		{"flow patches", "components:\n  - name: tool\n    patches: [{file: a}]\n", "r.yaml:3:14: component tool: patches: is not a block list"},
		{"flow component", "components: [{name: tool}]\n", "r.yaml:1:14: component tool is written in flow style"},
		{"not yaml", "components: [\n", "r.yaml: yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AddSeries("r.yaml", []byte(tt.in), "tool", "s")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestScalar(t *testing.T) {
	for in, want := range map[string]string{
		"patches/go/1.19.8/series": "patches/go/1.19.8/series",
		"my patches/series":        `"my patches/series"`,
		"-x/series":                `"-x/series"`,
	} {
		if got := scalar(in); got != want {
			t.Errorf("scalar(%q) = %s, want %s", in, got, want)
		}
	}
}
