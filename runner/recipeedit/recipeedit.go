// Package recipeedit changes a recipe file by inserting whole lines at
// places found with yaml.v3 node positions, so that comments, quoting,
// order and formatting everywhere else stay byte-identical. It is the one
// recipe editor: `bootstrap pin` inserts sha256:/commit: lines with it and
// `bootstrap patch save` a `- series:` entry (AddSeries).
//
// A recipe that is being edited need not load or validate yet (pin runs on
// recipes that lack their checksums), so File reads raw yaml.v3 nodes, not
// the recipe model.
package recipeedit

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is a recipe's text, its node tree and the lines to insert into it.
// Insertions refer to lines of the original text; Apply makes the new text.
type File struct {
	// Name is the file's path, used in error messages only.
	Name string
	// Root is the top-level mapping.
	Root *yaml.Node

	data  []byte
	lines []line
	nl    string // the file's line ending: "\r\n" when it uses that anywhere
	ins   []insertion
}

// line is one line of the file without its line ending, and the byte
// offset just after its line ending.
type line struct {
	text string
	end  int
}

// insertion is text to insert after the first after lines of the original.
type insertion struct {
	after int
	lines []string
}

// Parse reads data as a recipe file: a YAML document whose top level is a
// mapping. Errors name the file.
func Parse(name string, data []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a recipe (no top-level mapping)", name)
	}
	f := &File{Name: name, Root: doc.Content[0], data: data, lines: splitLines(data), nl: "\n"}
	if bytes.Contains(data, []byte("\r\n")) {
		f.nl = "\r\n"
	}
	return f, nil
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

// Errorf returns an error located at node n: file:line:col: message.
func (f *File) Errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d:%d: %s", f.Name, n.Line, n.Column, fmt.Sprintf(format, args...))
}

// Components returns the mappings of the components: list, in file order;
// nil when there is none.
func (f *File) Components() []*yaml.Node {
	_, comps := Lookup(f.Root, "components")
	if comps == nil || comps.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.Node
	for _, c := range comps.Content {
		if c.Kind == yaml.MappingNode {
			out = append(out, c)
		}
	}
	return out
}

// Component returns the mapping of the component called name, or an error
// naming the file.
func (f *File) Component(name string) (*yaml.Node, error) {
	if _, comps := Lookup(f.Root, "components"); comps == nil || comps.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: no components: list", f.Name)
	}
	for _, c := range f.Components() {
		if _, n := Lookup(c, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%s: no component named %q", f.Name, name)
}

// Lookup returns the key and value nodes of key in mapping m, or nils (also
// when m is nil or not a mapping).
func Lookup(m *yaml.Node, key string) (keyNode, value *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// EndLine returns the 1-based number of the last line holding part of n:
// the line of its last descendant, extended over the content lines of a
// block scalar and over continuation lines indented at least minIndent
// (a plain scalar folded over several lines). Blank and comment lines after
// the node are not part of it.
func (f *File) EndLine(n *yaml.Node, minIndent int) int {
	last := lastNode(n)
	end := last.Line - 1
	if last.Kind == yaml.ScalarNode && last.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		// Every line indented deeper than the line introducing the scalar
		// is its content, even one that starts with '#'.
		keyIndent := indentOf(f.lines[end].text)
		for i := end + 1; i < len(f.lines); i++ {
			t := f.lines[i].text
			if strings.TrimSpace(t) == "" {
				continue
			}
			if indentOf(t) <= keyIndent {
				break
			}
			end = i
		}
	}
	for i := end + 1; i < len(f.lines); i++ {
		t := f.lines[i].text
		if strings.TrimSpace(t) == "" || isComment(t) {
			continue
		}
		if indentOf(t) < minIndent {
			break
		}
		end = i
	}
	return end + 1
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

// Line returns the text of the 1-based line n of the original, without its
// line ending.
func (f *File) Line(n int) string { return f.lines[n-1].text }

// Insert queues lines (without line endings; indentation included) to go
// after the first after lines of the original text (0: at the top). It
// returns the insertion's index, for the line numbers Apply reports.
func (f *File) Insert(after int, lines ...string) int {
	f.ins = append(f.ins, insertion{after: after, lines: lines})
	return len(f.ins) - 1
}

// Apply returns the text with every insertion made, in the file's line
// ending (a file that did not end with one gets it before inserted lines),
// and the 1-based line in the new text of the first line of each
// insertion, by the index Insert returned. Insertions at the same place
// keep the order they were queued in.
func (f *File) Apply() ([]byte, []int) {
	order := make([]int, len(f.ins))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return f.ins[order[a]].after < f.ins[order[b]].after })
	var out bytes.Buffer
	at := make([]int, len(f.ins))
	off, added, ended := 0, 0, false
	for _, i := range order {
		in := f.ins[i]
		end := 0
		if in.after > 0 {
			end = f.lines[min(in.after, len(f.lines))-1].end
		}
		out.Write(f.data[off:end])
		off = end
		if end > 0 && f.data[end-1] != '\n' && !ended {
			out.WriteString(f.nl) // the file did not end with a line ending
			ended = true
		}
		at[i] = in.after + added + 1
		for _, l := range in.lines {
			out.WriteString(l + f.nl)
		}
		added += len(in.lines)
	}
	out.Write(f.data[off:])
	return out.Bytes(), at
}

func isComment(t string) bool { return strings.HasPrefix(strings.TrimLeft(t, " "), "#") }

func indentOf(t string) int { return len(t) - len(strings.TrimLeft(t, " ")) }

func spaces(n int) string { return strings.Repeat(" ", max(n, 0)) }
