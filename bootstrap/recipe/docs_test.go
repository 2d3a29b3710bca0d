package recipe

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// docSections maps each kind of mapping the loader decodes (the `what` it
// passes to decoder.mapping, which also names it in "unknown key … in
// <what>" errors) to the heading of its section in docs/recipe.md.
var docSections = map[string]string{
	"recipe":      "## Top level",
	"host":        "## host",
	"tool":        "### host.tools entries",
	"component":   "## Components",
	"source":      "## Sources",
	"patch":       "## Patches",
	"requirement": "## Requires",
	"step":        "## Steps",
	"verify":      "## Verify",
}

// loaderKeys reads the keys the loader accepts from its own source: every
// d.mapping(node, "what", map[string]func…{"key": …}) call in load.go. The
// same map literal is what unknown keys are rejected against, so a key
// added to the loader is a key this test knows about.
func loaderKeys(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "load.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "mapping" || len(call.Args) != 3 {
			return true
		}
		at := fset.Position(call.Pos())
		what, ok := call.Args[1].(*ast.BasicLit)
		lit, ok2 := call.Args[2].(*ast.CompositeLit)
		if !ok || !ok2 || what.Kind != token.STRING {
			t.Fatalf("%s: d.mapping must be called with a string and a map literal for this test to read its keys", at)
		}
		name, _ := strconv.Unquote(what.Value)
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			k, ok2 := kv.Key.(*ast.BasicLit)
			if !ok || !ok2 || k.Kind != token.STRING {
				t.Fatalf("%s: a key of the %s mapping is not a string literal", at, name)
			}
			key, _ := strconv.Unquote(k.Value)
			keys[name] = append(keys[name], key)
		}
		return true
	})
	return keys
}

// section returns the text of the section that starts with heading, up to
// the next heading of the same or a higher level.
func section(doc, heading string) (string, bool) {
	lines := strings.Split(doc, "\n")
	level := strings.Index(heading, " ")
	for i, l := range lines {
		if !strings.HasPrefix(l, heading) {
			continue
		}
		j, fenced := i+1, false
		for ; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				fenced = !fenced
			}
			if h := strings.Index(lines[j], "# "); !fenced && h >= 0 && h < level && strings.Trim(lines[j][:h+1], "#") == "" {
				break
			}
		}
		return strings.Join(lines[i:j], "\n"), true
	}
	return "", false
}

var yamlBlockRE = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocsListEveryKey checks that docs/recipe.md documents every key the
// loader accepts, in the section of its mapping: named in the text as
// `key:` (a code span) and used in one of the section's YAML examples.
func TestDocsListEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../docs/recipe.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	keys := loaderKeys(t)
	if len(keys) < len(docSections) || len(keys["source"]) < 10 {
		t.Fatalf("read only %v from load.go: the reader is broken", keys)
	}
	var whats []string
	for what := range keys {
		whats = append(whats, what)
	}
	sort.Strings(whats)
	for _, what := range whats {
		heading, ok := docSections[what]
		if !ok {
			t.Errorf("the loader decodes a %q mapping (keys %v) that docs/recipe.md has no section for: write one and add it to docSections", what, keys[what])
			continue
		}
		text, ok := section(doc, heading)
		if !ok {
			t.Errorf("docs/recipe.md has no heading %q for the %s mapping", heading, what)
			continue
		}
		var examples strings.Builder
		for _, m := range yamlBlockRE.FindAllStringSubmatch(text, -1) {
			examples.WriteString(m[1])
		}
		for _, key := range keys[what] {
			if !strings.Contains(text, "`"+key+":") {
				t.Errorf("docs/recipe.md, %s: key %s: is not documented (write it as `%s: …`)", heading, key, key)
			}
			used := regexp.MustCompile(`(?m)^\s*(- )?` + regexp.QuoteMeta(key) + `:`)
			if !used.MatchString(examples.String()) {
				t.Errorf("docs/recipe.md, %s: no YAML example uses %s:", heading, key)
			}
		}
	}
}
