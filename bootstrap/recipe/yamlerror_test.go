package recipe

import (
	"strings"
	"testing"
)

// TestYAMLSyntaxErrorLine checks that a YAML syntax error is reported on
// the line where it is, not on the line where yaml.v3's parser context
// began (a bad indentation on line 7 used to be reported on line 2).
func TestYAMLSyntaxErrorLine(t *testing.T) {
	const head = "name: x\ncomponents:\n  - name: a\n    steps:\n      - name: s\n        run: echo hi\n"
	for _, tt := range []struct {
		name, text, want string
	}{
		{"indentation of a key on line 7", head + "     dir: x\n",
			"r.yaml:7:6: invalid YAML: did not find expected key"},
		{"indentation on line 7 with lines after it", head + "     dir: x\n      - name: t\n        run: echo\n",
			"r.yaml:7:6: invalid YAML: did not find expected key"},
		{"unclosed quote on line 7", head + "        dir: \"unclosed\n      - name: t\n        run: echo\n",
			"r.yaml:7:9: invalid YAML: found unexpected end of stream"},
		{"tab on line 7", head + "\tdir: x\n",
			"r.yaml:7:1: invalid YAML: found a tab character that violates indentation"},
		{"a second colon on line 7", head + "        dir: a: b\n",
			"r.yaml:7:9: invalid YAML: mapping values are not allowed in this context"},
		{"a step key too far left on line 6", "name: x\ndescription: y\ntargets: [amd64]\ncomponents:\n  - name: a\n     steps: []\n",
			"r.yaml:6:6: invalid YAML: mapping values are not allowed in this context"},
		{"a legal multi-line flow list before the mistake", "name: x\ntargets: [amd64,\n  arm64]\ncomponents:\n  - name: a\n    steps:\n   - name: s\n",
			"r.yaml:7:4: invalid YAML: did not find expected '-' indicator"},
		{"a legal multi-line quoted value before the mistake", "name: x\ndescription: \"one\n  two\"\ncomponents:\n  - name: a\n    steps:\n   - name: s\n",
			"r.yaml:7:4: invalid YAML: did not find expected '-' indicator"},
		{"unclosed flow mapping", head + "        env: {A: 1\n",
			"r.yaml:7:9: invalid YAML: did not find expected ',' or '}'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.text))
			if err == nil {
				t.Fatal("the recipe parsed without error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if n := strings.Count(err.Error(), "\n"); n != 0 {
				t.Errorf("want one problem, got %d lines", n+1)
			}
		})
	}
}
