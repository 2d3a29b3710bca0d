package recipeedit

import (
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
	f, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	comp, err := flowFree(f, component)
	if err != nil {
		return nil, err
	}
	before := len(patchList(comp))
	after, lines, err := f.seriesInsertion(comp, component, "- series: "+scalar(series))
	if err != nil {
		return nil, err
	}
	f.Insert(after, lines...)
	out, _ := f.Apply()
	if err := check(out, component, series, before+1); err != nil {
		return nil, fmt.Errorf("%s: component %s: cannot add `- series: %s` safely (%v); add it to its patches: by hand", file, component, series, err)
	}
	return out, nil
}

// flowFree returns the component's mapping, or an error when it is written
// in flow style, where lines cannot be inserted.
func flowFree(f *File, name string) (*yaml.Node, error) {
	c, err := f.Component(name)
	if err != nil {
		return nil, err
	}
	if _, comps := Lookup(f.Root, "components"); c.Style&yaml.FlowStyle != 0 || comps.Style&yaml.FlowStyle != 0 {
		return nil, f.Errorf(c, "component %s is written in flow style ({…}); add its patches entry by hand", name)
	}
	return c, nil
}

// seriesInsertion returns where to insert (after how many lines) and what,
// for a new patches entry.
func (f *File) seriesInsertion(comp *yaml.Node, name, entry string) (int, []string, error) {
	key, val := Lookup(comp, "patches")
	if key != nil {
		if val.Kind != yaml.SequenceNode || val.Style&yaml.FlowStyle != 0 || len(val.Content) == 0 {
			return 0, nil, f.Errorf(val, "component %s: patches: is not a block list (- file: …); add `%s` to it by hand", name, entry)
		}
		dash := val.Column - 1
		return f.EndLine(val.Content[len(val.Content)-1], dash+1), []string{spaces(dash) + entry}, nil
	}
	indent := comp.Column - 1
	offset := 2 // how far a list's dashes sit right of its key
	stepsKey, stepsVal := Lookup(comp, "steps")
	if stepsVal != nil && stepsVal.Kind == yaml.SequenceNode && stepsVal.Style&yaml.FlowStyle == 0 && stepsVal.Column >= stepsKey.Column {
		offset = stepsVal.Column - stepsKey.Column
	}
	lines := []string{spaces(indent) + "patches:", spaces(indent+offset) + entry}
	if stepsKey != nil && stepsKey.Line != comp.Line {
		i := stepsKey.Line - 1 // lines before steps:
		for i > 0 && isComment(f.Line(i)) && indentOf(f.Line(i)) == indent {
			i--
		}
		return i, lines, nil
	}
	return f.EndLine(comp, indent), lines, nil
}

// patchList returns the entries of the component's patches: list.
func patchList(comp *yaml.Node) []*yaml.Node {
	if _, v := Lookup(comp, "patches"); v != nil && v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return nil
}

// check decodes the edited file and verifies that the component's patches
// now has n entries, the last being the new series.
func check(data []byte, component, series string, n int) error {
	f, err := Parse("", data)
	if err != nil {
		return err
	}
	comp, err := f.Component(component)
	if err != nil {
		return err
	}
	list := patchList(comp)
	if len(list) != n {
		return fmt.Errorf("the edited file has %d patches entries, want %d", len(list), n)
	}
	if _, v := Lookup(list[n-1], "series"); v == nil || v.Value != series {
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
