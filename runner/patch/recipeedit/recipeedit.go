// Package recipeedit changes a recipe file by small textual insertions
// located with yaml.v3 node positions, so that comments, quoting, order and
// formatting everywhere else stay byte-identical. It is what `bootstrap
// patch save` uses to add a series entry to a component.
package recipeedit

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// AddSeries returns data with `- series: <series>` appended as the last
// entry of the named component's patches: list. When the component has no
// patches: key, one is created just before its steps: key (above any
// comment lines directly attached to it), or at the end of the component
// when steps: is missing or on the component's first line. Indentation
// follows the surrounding entries. file is used in error messages only.
//
// It returns an error, and no data, when the component cannot be found, is
// written in flow style ({…} or […]), or when the edited text does not
// decode to the expected list; the error names file, line and component.
func AddSeries(file string, data []byte, component, series string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	comp, err := findComponent(file, &doc, component)
	if err != nil {
		return nil, err
	}
	before := len(patchList(comp))
	e := &editor{lines: splitLines(data), nl: "\n"}
	if bytes.Contains(data, []byte("\r\n")) {
		e.nl = "\r\n"
	}
	at, text, err := e.insertion(file, comp, component, "- series: "+scalar(series))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(data)+len(text)+2)
	out = append(out, data[:at]...)
	if at > 0 && data[at-1] != '\n' {
		out = append(out, e.nl...) // the file did not end with a newline
	}
	out = append(out, text...)
	out = append(out, data[at:]...)
	if err := check(out, component, series, before+1); err != nil {
		return nil, fmt.Errorf("%s: component %s: cannot add `- series: %s` safely (%v); add it to its patches: by hand", file, component, series, err)
	}
	return out, nil
}

// editor finds insertion points in the recipe's lines.
type editor struct {
	lines []line
	nl    string
}

// line is one line of the file without its line ending, and the byte
// offset just after its line ending.
type line struct {
	text string
	end  int
}

func splitLines(data []byte) []line {
	var out []line
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if i >= 0 {
			next = off + i + 1
		}
		out = append(out, line{text: strings.TrimRight(string(data[off:next]), "\r\n"), end: next})
		off = next
	}
	return out
}

// start is the byte offset of line i (0-based).
func (e *editor) start(i int) int {
	if i == 0 {
		return 0
	}
	return e.lines[i-1].end
}

// insertion returns where to insert and what, for a new patches entry.
func (e *editor) insertion(file string, comp *yaml.Node, name, entry string) (int, string, error) {
	key, val := lookup(comp, "patches")
	if key != nil {
		if val.Kind != yaml.SequenceNode || val.Style&yaml.FlowStyle != 0 || len(val.Content) == 0 {
			return 0, "", fmt.Errorf("%s:%d:%d: component %s: patches: is not a block list (- file: …); add `%s` to it by hand", file, val.Line, val.Column, name, entry)
		}
		dash := val.Column - 1
		last := e.end(val.Content[len(val.Content)-1], dash+1)
		return e.lines[last].end, spaces(dash) + entry + e.nl, nil
	}
	indent := comp.Column - 1
	offset := 2 // how far a list's dashes sit right of its key
	stepsKey, stepsVal := lookup(comp, "steps")
	if stepsVal != nil && stepsVal.Kind == yaml.SequenceNode && stepsVal.Style&yaml.FlowStyle == 0 && stepsVal.Column >= stepsKey.Column {
		offset = stepsVal.Column - stepsKey.Column
	}
	text := spaces(indent) + "patches:" + e.nl + spaces(indent+offset) + entry + e.nl
	if stepsKey != nil && stepsKey.Line != comp.Line {
		i := stepsKey.Line - 1
		for i > 0 && isComment(e.lines[i-1].text) && indentOf(e.lines[i-1].text) == indent {
			i--
		}
		return e.start(i), text, nil
	}
	last := e.end(comp, indent)
	return e.lines[last].end, text, nil
}

// end returns the index of the last line holding part of n: the line of
// its last descendant, extended over the content lines of a block scalar
// and over continuation lines indented at least minIndent. Blank and
// comment lines after the node are not part of it.
func (e *editor) end(n *yaml.Node, minIndent int) int {
	last := lastNode(n)
	end := last.Line - 1
	if last.Kind == yaml.ScalarNode && last.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		// Every line indented deeper than the line introducing the scalar
		// is its content, even one that starts with '#'.
		keyIndent := indentOf(e.lines[end].text)
		for i := end + 1; i < len(e.lines); i++ {
			t := e.lines[i].text
			if strings.TrimSpace(t) == "" {
				continue
			}
			if indentOf(t) <= keyIndent {
				break
			}
			end = i
		}
	}
	for i := end + 1; i < len(e.lines); i++ {
		t := e.lines[i].text
		if strings.TrimSpace(t) == "" || isComment(t) {
			continue
		}
		if indentOf(t) < minIndent {
			break
		}
		end = i
	}
	return end
}

// lastNode is the descendant of n that starts last in the file.
func lastNode(n *yaml.Node) *yaml.Node {
	last := n
	for _, c := range n.Content {
		if l := lastNode(c); l.Line > last.Line || (l.Line == last.Line && l.Column > last.Column) {
			last = l
		}
	}
	return last
}

// findComponent returns the mapping of the component called name.
func findComponent(file string, doc *yaml.Node, name string) (*yaml.Node, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a recipe (no top-level mapping)", file)
	}
	_, comps := lookup(doc.Content[0], "components")
	if comps == nil || comps.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: no components: list", file)
	}
	for _, c := range comps.Content {
		if c.Kind != yaml.MappingNode {
			continue
		}
		if _, n := lookup(c, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value == name {
			if c.Style&yaml.FlowStyle != 0 || comps.Style&yaml.FlowStyle != 0 {
				return nil, fmt.Errorf("%s:%d:%d: component %s is written in flow style ({…}); add its patches entry by hand", file, c.Line, c.Column, name)
			}
			return c, nil
		}
	}
	return nil, fmt.Errorf("%s: no component named %q", file, name)
}

// lookup returns the key and value nodes of key in mapping m, or nils.
func lookup(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// patchList returns the entries of the component's patches: list.
func patchList(comp *yaml.Node) []*yaml.Node {
	if _, v := lookup(comp, "patches"); v != nil && v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return nil
}

// check decodes the edited file and verifies that the component's patches
// now has n entries, the last being the new series.
func check(data []byte, component, series string, n int) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	comp, err := findComponent("", &doc, component)
	if err != nil {
		return err
	}
	list := patchList(comp)
	if len(list) != n {
		return fmt.Errorf("the edited file has %d patches entries, want %d", len(list), n)
	}
	if _, v := lookup(list[n-1], "series"); v == nil || v.Value != series {
		return fmt.Errorf("the last patches entry of the edited file is not the new series")
	}
	return nil
}

var plainRE = regexp.MustCompile(`^[A-Za-z0-9_./][A-Za-z0-9_./+@-]*$`)

// scalar writes s as a YAML scalar: plain when that is unambiguous, else
// double-quoted (Go's escapes are a subset of YAML's).
func scalar(s string) string {
	if plainRE.MatchString(s) && !strings.Contains(s, "${{") {
		return s
	}
	return strconv.Quote(s)
}

func isComment(t string) bool { return strings.HasPrefix(strings.TrimLeft(t, " "), "#") }

func indentOf(t string) int { return len(t) - len(strings.TrimLeft(t, " ")) }

func spaces(n int) string { return strings.Repeat(" ", max(n, 0)) }
