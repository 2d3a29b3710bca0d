package recipe

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, decodes and validates the recipe at path. It returns an
// ErrorList holding every problem found, each with file:line:col, or a
// single *Error naming path when it is missing, a directory or cannot be
// read: a wrong recipe argument is bad usage like an invalid recipe.
func Load(path string) (*Recipe, error) {
	data, err := readRecipe(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readRecipe reads the file at path, returning an *Error that says why it
// is not a recipe file.
func readRecipe(path string) ([]byte, error) {
	fail := func(msg string) error { return &Error{Pos: Pos{File: path}, Msg: msg} }
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fail("no such recipe file")
	case err != nil:
		return nil, fail("cannot read the recipe: " + pathErr(err))
	case fi.IsDir():
		return nil, fail("is a directory, not a recipe file (`bootstrap list " + path + "` lists the recipes in it)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fail("cannot read the recipe: " + pathErr(err))
	}
	return data, nil
}

// pathErr is err without the path, which the *Error already names.
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse decodes and validates a recipe held in memory; path is used for
// positions and to resolve relative patch and dir paths.
func Parse(path string, data []byte) (*Recipe, error) {
	r, errs, ok := parse(path, data, nil)
	if ok {
		// Validation runs even after decoding problems, so that every
		// problem in the file is reported in one go.
		validate(r, &errs)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// parse decodes one file and, when it extends a base recipe, the base
// (recursively; chain holds the files already on the way, to catch a
// cycle), merged under it. It does not validate.
func parse(path string, data []byte, chain []string) (*Recipe, ErrorList, bool) {
	d := &decoder{file: path, lines: bytes.Split(data, []byte("\n"))}
	r, ok := d.document(data)
	if abs, err := filepath.Abs(path); err == nil {
		r.Files = []string{abs}
	}
	if ok && r.Extends.Value != "" {
		if base, ok := d.base(r, chain); ok {
			r = merge(base, r)
		}
	}
	return r, d.errs, ok
}

// decoder turns yaml.v3 nodes into typed recipe values, collecting errors
// instead of stopping at the first.
type decoder struct {
	file  string
	lines [][]byte
	errs  ErrorList
	comp  string // component being decoded, for error context
	step  string // step being decoded, for error context
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document decodes the whole file; ok is false when it is not YAML at all.
func (d *decoder) document(data []byte) (r *Recipe, ok bool) {
	r = &Recipe{File: d.file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		pos := Pos{File: d.file, Line: 1, Col: 1}
		msg := err.Error()
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			pos.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
			pos.Line = d.syntaxErrorLine(err, pos.Line)
			pos.Col = d.firstCol(pos.Line)
		} else if err.Error() == "EOF" {
			msg = "the file is empty"
		}
		if line, col := d.unquotedFlowExpansion(); line > 0 {
			// The likeliest cause by far, and yaml's message does not
			// point at it: in [ … ] a '{' opens a mapping.
			pos.Line, pos.Col = line, col
			msg = "a ${{ }} inside [ … ] must be quoted, like [\"${{ name }}/x\"], or written as a block list (- ${{ name }}/x)"
		}
		d.errs.errorf(pos, "", "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
		return r, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errs.errorf(d.pos(&extra), "", "", "a recipe is one YAML document; remove the second one")
	}
	root := doc.Content[0]
	hasComponents := false
	d.mapping(root, "recipe", map[string]func(k, v *yaml.Node){
		"schema": func(k, v *yaml.Node) {
			if s := d.str(v); s.Value != "1" {
				d.errorf(v, "unsupported schema %q: this bootstrap reads schema 1", s.Value)
			}
		},
		"extends":     func(k, v *yaml.Node) { r.Extends = d.str(v) },
		"name":        func(k, v *yaml.Node) { r.Name = d.str(v) },
		"description": func(k, v *yaml.Node) { r.Description = d.str(v) },
		"targets":     func(k, v *yaml.Node) { r.Targets = d.strList(v, false) },
		"host":        func(k, v *yaml.Node) { r.Host = d.host(v) },
		"vars":        func(k, v *yaml.Node) { r.Vars = d.vars(v) },
		"env":         func(k, v *yaml.Node) { r.Env = d.vars(v) },
		"components": func(k, v *yaml.Node) {
			hasComponents = true
			r.Components = d.components(v)
		},
	})
	if r.Name.Value == "" && root.Kind == yaml.MappingNode {
		d.errorf(root, "the recipe has no name: add `name: …`")
	}
	if !hasComponents && r.Extends.Value == "" && root.Kind == yaml.MappingNode {
		d.errorf(root, "the recipe has no components")
	}
	return r, root.Kind == yaml.MappingNode
}

// syntaxErrorLine finds the line of a YAML syntax error. yaml.v3's message
// names the line of the parser's context mark — where the block holding the
// problem began (counted from 0 for parser errors), line 2 for a bad
// indentation on line 7 — and does not expose the problem mark. The
// problem's line is the first line L such that the file cut after L fails
// with the same error: a prefix that stops before the problem parses (or
// fails differently, when the cut falls inside a multi-line quoted or flow
// value), and every prefix that holds it fails the same way. The problem
// is not before the context line, so the search gallops from there, then
// bisects: a few parses of short prefixes for a mistake near its block,
// about 20 in the worst case. When the search cannot place the error,
// yamlLine (the line yaml named) is returned.
func (d *decoder) syntaxErrorLine(full error, yamlLine int) int {
	fails := func(n int) bool {
		var doc yaml.Node
		prefix := bytes.Join(d.lines[:n], []byte("\n"))
		err := yaml.NewDecoder(bytes.NewReader(prefix)).Decode(&doc)
		return err != nil && err.Error() == full.Error()
	}
	// Prefix lo does not hold the problem; prefix hi (the whole file) does.
	lo, hi := max(0, min(yamlLine-2, len(d.lines)-1)), len(d.lines)
	if !fails(hi) {
		return yamlLine
	}
	for step := 1; lo+step < hi; step *= 2 {
		if fails(lo + step) {
			hi = lo + step
			break
		}
		lo += step
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// firstCol is the column of the first character of line (1-based) that is
// not a space, where a syntax error on that line is most likely seen.
func (d *decoder) firstCol(line int) int {
	if line < 1 || line > len(d.lines) {
		return 1
	}
	l := d.lines[line-1]
	return len(l) - len(bytes.TrimLeft(l, " ")) + 1
}

var flowExpansionRE = regexp.MustCompile(`[\[,]\s*\$\{\{`)

// unquotedFlowExpansion finds the first line with an unquoted ${{ in a flow
// sequence, returning 0, 0 when there is none.
func (d *decoder) unquotedFlowExpansion() (line, col int) {
	for i, l := range d.lines {
		if loc := flowExpansionRE.FindIndex(l); loc != nil {
			return i + 1, loc[1] - 2
		}
	}
	return 0, 0
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.errorf(d.pos(n), d.comp, d.step, format, args...)
}

// mapping walks a mapping node, calling the handler of each known key and
// reporting unknown and repeated keys.
func (d *decoder) mapping(n *yaml.Node, what string, fields map[string]func(k, v *yaml.Node)) {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of keys to values, not %s", what, kindName(n))
		return
	}
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	sort.Strings(known)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if prev, dup := seen[k.Value]; dup {
			d.errorf(k, "key %q appears twice in %s (first at line %d)", k.Value, what, prev.Line)
			continue
		}
		seen[k.Value] = k
		h, ok := fields[k.Value]
		if !ok {
			if d.errs.Full() { // only counted: skip the suggestion's cost
				d.errs.count(d.pos(k), 1)
				continue
			}
			d.errorf(k, "unknown key %q in %s%s; known keys: %s", k.Value, what, suggest(k.Value, known), strings.Join(known, ", "))
			continue
		}
		h(k, v)
	}
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "something else"
}

// str decodes a scalar. Numbers and booleans are kept as written, so
// `go_version: 1.20` stays "1.20" rather than becoming the float 1.2.
func (d *decoder) str(n *yaml.Node) Str {
	n = resolveAlias(n)
	s := Str{Pos: d.pos(n)}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "expected a string, found %s", kindName(n))
		return s
	}
	if n.Tag == "!!null" {
		return s
	}
	s.Value = n.Value
	s.Quoted = n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		s.Block = true
		s.Indent = d.blockIndent(n.Line)
	}
	return s
}

// blockIndent finds the indentation of a block scalar's content: the leading
// spaces of the first non-blank line after the indicator line.
func (d *decoder) blockIndent(indicatorLine int) int {
	for i := indicatorLine; i < len(d.lines); i++ { // lines is 0-based: i is the next line
		line := d.lines[i]
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return len(line) - len(bytes.TrimLeft(line, " "))
	}
	return 0
}

// strList decodes a list of scalars; a single scalar is accepted as a
// one-element list when single is true.
func (d *decoder) strList(n *yaml.Node, single bool) []Str {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && single {
		return []Str{d.str(n)}
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "expected a list, found %s", kindName(n))
		return nil
	}
	out := make([]Str, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, d.str(c))
	}
	return out
}

func (d *decoder) int(n *yaml.Node) int {
	s := d.str(n)
	if s.Value == "" {
		return 0
	}
	v, err := strconv.Atoi(s.Value)
	if err != nil {
		d.errorf(n, "expected a whole number, found %q", s.Value)
	}
	return v
}

// size decodes a byte count: a whole number, or one with K, M, G or T
// (powers of 1024), as ParseSize reads it.
func (d *decoder) size(n *yaml.Node) int64 {
	s := d.str(n)
	if s.Value == "" {
		return 0
	}
	v, err := ParseSize(s.Value)
	if err != nil || v <= 0 {
		d.errorf(n, "expected a size such as 120M or 1G, found %q", s.Value)
	}
	return v
}

func (d *decoder) bool(n *yaml.Node) bool {
	s := d.str(n)
	switch s.Value {
	case "true", "yes", "on":
		return true
	case "false", "no", "off", "":
		return false
	}
	d.errorf(n, "expected true or false, found %q", s.Value)
	return false
}

// vars decodes a mapping of names to scalar values, keeping file order.
func (d *decoder) vars(n *yaml.Node) []Var {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping of names to values, found %s", kindName(n))
		return nil
	}
	seen := map[string]int{}
	var out []Var
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, "%q is set twice (first at line %d)", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, Var{Name: d.str(k), Value: d.str(v)})
	}
	return out
}

func (d *decoder) host(n *yaml.Node) Host {
	h := Host{Pos: d.pos(n)}
	d.mapping(n, "host", map[string]func(k, v *yaml.Node){
		"tools":    func(k, v *yaml.Node) { h.Tools = d.tools(v) },
		"packages": func(k, v *yaml.Node) { h.Packages = d.strList(v, false) },
		"disk":     func(k, v *yaml.Node) { h.Disk = d.str(v) },
		"memory":   func(k, v *yaml.Node) { h.Memory = d.str(v) },
		"kernel":   func(k, v *yaml.Node) { h.Kernel = d.strList(v, false) },
		"binfmt":   func(k, v *yaml.Node) { h.Binfmt = d.strList(v, false) },
		"suite":    func(k, v *yaml.Node) { h.Suite = d.str(v) },
	})
	return h
}

// tools decodes `tools:`, whose entries are a bare name or {name, version}.
func (d *decoder) tools(n *yaml.Node) []Tool {
	return list(d, n, "tools", func(c *yaml.Node) Tool {
		t := Tool{Pos: d.pos(c)}
		if c.Kind == yaml.ScalarNode {
			t.Name = d.str(c)
			return t
		}
		d.mapping(c, "tool", map[string]func(k, v *yaml.Node){
			"name":    func(k, v *yaml.Node) { t.Name = d.str(v) },
			"version": func(k, v *yaml.Node) { t.Version = d.str(v) },
		})
		return t
	})
}

func (d *decoder) components(n *yaml.Node) []*Component {
	return list(d, n, "components", d.component)
}

func (d *decoder) component(n *yaml.Node) *Component {
	c := &Component{Pos: d.pos(n)}
	d.comp = mappingValue(n, "name")
	defer func() { d.comp = "" }()
	var single *yaml.Node
	d.mapping(n, "component", map[string]func(k, v *yaml.Node){
		"name":  func(k, v *yaml.Node) { c.Name = d.str(v) },
		"needs": func(k, v *yaml.Node) { c.Needs = d.strList(v, false) },
		"source": func(k, v *yaml.Node) {
			single = k
			c.Sources = append([]*Source{d.source(v)}, c.Sources...)
		},
		"sources": func(k, v *yaml.Node) {
			if single != nil {
				d.errorf(k, "use either source: or sources:, not both")
			}
			c.Sources = append(c.Sources, list(d, v, "sources", d.source)...)
		},
		"patches":    func(k, v *yaml.Node) { c.Patches = d.patches(v) },
		"env":        func(k, v *yaml.Node) { c.Env = d.vars(v) },
		"target_env": func(k, v *yaml.Node) { c.TargetEnv = d.targetEnv(v) },
		"requires":   func(k, v *yaml.Node) { c.Requires = d.requires(v) },
		"tools":      func(k, v *yaml.Node) { c.Tools = d.strList(v, false) },
		"steps":      func(k, v *yaml.Node) { c.Steps = d.steps(v) },
		"outputs":    func(k, v *yaml.Node) { c.Outputs = d.strList(v, false) },
		"verify":     func(k, v *yaml.Node) { c.Verify = d.verify(v) },
	})
	return c
}

func (d *decoder) verify(n *yaml.Node) *Verify {
	vf := &Verify{Pos: d.pos(n)}
	d.mapping(n, "verify", map[string]func(k, v *yaml.Node){
		"file":      func(k, v *yaml.Node) { vf.File = d.str(v) },
		"gomod":     func(k, v *yaml.Node) { vf.GoMod = d.str(v) },
		"h1":        func(k, v *yaml.Node) { vf.H1 = d.perTarget(v) },
		"sha256":    func(k, v *yaml.Node) { vf.SHA256 = d.perTarget(v) },
		"skip":      func(k, v *yaml.Node) { vf.Skip = d.str(v) },
		"component": func(k, v *yaml.Node) { vf.Component = d.str(v) },
		"other":     func(k, v *yaml.Node) { vf.Other = d.str(v) },
	})
	return vf
}

// targetEnv decodes a mapping from target name to environment mapping.
func (d *decoder) targetEnv(n *yaml.Node) []TargetEnv {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "target_env: expected a mapping of target names to environments, found %s", kindName(n))
		return nil
	}
	var out []TargetEnv
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		out = append(out, TargetEnv{Target: d.str(k), Env: d.vars(v)})
	}
	return out
}

// perTarget decodes a pin written as a scalar or as a mapping from target
// name to value.
func (d *decoder) perTarget(n *yaml.Node) PerTarget {
	n = resolveAlias(n)
	if n.Kind == yaml.MappingNode {
		return PerTarget{Str: Str{Pos: d.pos(n)}, ByTarget: d.vars(n)}
	}
	return PerTarget{Str: d.str(n)}
}

func (d *decoder) source(n *yaml.Node) *Source {
	s := &Source{Pos: d.pos(n)}
	d.mapping(n, "source", map[string]func(k, v *yaml.Node){
		"url":        func(k, v *yaml.Node) { s.URL = d.strList(v, true) },
		"sha256":     func(k, v *yaml.Node) { s.SHA256 = d.str(v) },
		"filename":   func(k, v *yaml.Node) { s.Filename = d.str(v) },
		"strip":      func(k, v *yaml.Node) { s.Strip, s.StripPos = d.int(v), d.pos(v) },
		"git":        func(k, v *yaml.Node) { s.Git = d.str(v) },
		"commit":     func(k, v *yaml.Node) { s.Commit = d.str(v) },
		"ref":        func(k, v *yaml.Node) { s.Ref = d.str(v) },
		"submodules": func(k, v *yaml.Node) { s.Submodules = d.bool(v) },
		"dir":        func(k, v *yaml.Node) { s.Dir = d.str(v) },
		"svn":        func(k, v *yaml.Node) { s.SVN = d.str(v) },
		"revision":   func(k, v *yaml.Node) { s.Revision = d.str(v) },
		"hg":         func(k, v *yaml.Node) { s.HG = d.str(v) },
		"changeset":  func(k, v *yaml.Node) { s.Changeset = d.str(v) },
		"tree":       func(k, v *yaml.Node) { s.Tree = d.str(v) },
		"size":       func(k, v *yaml.Node) { s.Size, s.SizePos = d.size(v), d.pos(v) },
		"unpacked_size": func(k, v *yaml.Node) {
			s.UnpackedSize, s.UnpackedSizePos = d.size(v), d.pos(v)
		},
		"dest":  func(k, v *yaml.Node) { s.Dest = d.str(v) },
		"gomod": func(k, v *yaml.Node) { s.GoMod = d.str(v) },
		"h1":    func(k, v *yaml.Node) { s.H1 = d.perTarget(v) },
	})
	return s
}

func (d *decoder) patches(n *yaml.Node) []*Patch {
	return list(d, n, "patches", func(c *yaml.Node) *Patch {
		p := &Patch{Pos: d.pos(c), Strip: 1}
		d.mapping(c, "patch", map[string]func(k, v *yaml.Node){
			"file":   func(k, v *yaml.Node) { p.File = d.str(v) },
			"series": func(k, v *yaml.Node) { p.Series = d.str(v) },
			"strip":  func(k, v *yaml.Node) { p.Strip = d.int(v) },
			"fuzz":   func(k, v *yaml.Node) { p.Fuzz = d.int(v) },
		})
		return p
	})
}

func (d *decoder) requires(n *yaml.Node) []*Requirement {
	return list(d, n, "requires", func(c *yaml.Node) *Requirement {
		r := &Requirement{Pos: d.pos(c)}
		d.mapping(c, "requirement", map[string]func(k, v *yaml.Node){
			"tool":    func(k, v *yaml.Node) { r.Tool = d.str(v) },
			"version": func(k, v *yaml.Node) { r.Version = d.str(v) },
		})
		return r
	})
}

func (d *decoder) steps(n *yaml.Node) []*Step {
	return list(d, n, "steps", func(c *yaml.Node) *Step {
		s := &Step{Pos: d.pos(c)}
		d.step = mappingValue(c, "name")
		defer func() { d.step = "" }()
		d.mapping(c, "step", map[string]func(k, v *yaml.Node){
			"name":       func(k, v *yaml.Node) { s.Name = d.str(v) },
			"run":        func(k, v *yaml.Node) { s.Run = d.str(v) },
			"dir":        func(k, v *yaml.Node) { s.Dir = d.str(v) },
			"shell":      func(k, v *yaml.Node) { s.Shell = d.str(v) },
			"env":        func(k, v *yaml.Node) { s.Env = d.vars(v) },
			"network":    func(k, v *yaml.Node) { s.Network = d.bool(v) },
			"privileged": func(k, v *yaml.Node) { s.Privileged = d.bool(v) },
			"reason":     func(k, v *yaml.Node) { s.Reason = d.str(v) },
		})
		return s
	})
}

// list decodes a sequence with item, reporting anything else as "<what>
// must be a list".
func list[T any](d *decoder, n *yaml.Node, what string, item func(*yaml.Node) T) []T {
	n = resolveAlias(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, found %s", what, kindName(n))
		return nil
	}
	out := make([]T, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, item(resolveAlias(c)))
	}
	return out
}

// mappingValue is the scalar value of key in a mapping node, read ahead of
// decoding so that errors inside a component or step can name it.
func mappingValue(n *yaml.Node, key string) string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1].Value
			}
		}
	}
	return ""
}

// Dir is the directory relative paths in the recipe are resolved against.
func (r *Recipe) Dir() string { return filepath.Dir(r.File) }
