package recipe

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const baseRecipe = `name: base
description: the base
targets: [amd64, arm64]
host:
  packages: [gcc]
  disk: 1G
vars:
  v: base
  w: kept
env:
  A: base
components:
  - name: one
    source:
      dir: p
    patches:
      - file: p/one.patch
    steps:
      - name: s
        run: echo one
  - name: two
    steps:
      - name: s
        run: echo two
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExtends(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"base/base.yaml":   baseRecipe,
		"base/p/one.patch": "",
		"derived.yaml": `extends: base/base.yaml
name: derived
targets: [ppc64le]
host:
  packages: [gccgo-12]
  suite: trixie
vars:
  v: derived
  x: new
components:
  - name: two
    steps:
      - name: s
        run: echo two, mine
  - name: three
    needs: [one]
    steps:
      - name: s
        run: echo three
`,
	})
	r, err := Load(filepath.Join(dir, "derived.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	add := func(f string, a ...any) { got = append(got, strings.TrimSpace(fmt.Sprintf(f, a...))) }
	add("name=%s description=%s suite=%s disk=%s", r.Name.Value, r.Description.Value, r.Host.Suite.Value, r.Host.Disk.Value)
	for _, tg := range r.Targets {
		add("target %s", tg.Value)
	}
	for _, p := range r.Host.Packages {
		add("package %s", p.Value)
	}
	for _, v := range append(r.Vars, r.Env...) {
		add("var %s=%s", v.Name.Value, v.Value.Value)
	}
	for _, c := range r.Components {
		add("component %s: %s (%s)", c.Name.Value, c.Steps[0].Run.Value, filepath.Base(c.Pos.File))
	}
	want := []string{
		"name=derived description=the base suite=trixie disk=1G",
		"target ppc64le",
		"package gcc", "package gccgo-12",
		"var v=derived", "var w=kept", "var x=new", "var A=base",
		"component one: echo one (base.yaml)",
		"component two: echo two, mine (derived.yaml)",
		"component three: echo three (derived.yaml)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("merged recipe:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The base's patch path is the base's: it resolves in base/.
	p := r.Components[0].Patches[0].File
	if got := filepath.Join(r.DirOf(p), p.Value); got != filepath.Join(dir, "base", "p", "one.patch") {
		t.Errorf("base patch resolves to %s", got)
	}
}

func TestExtendsErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"missing base", map[string]string{"r.yaml": "extends: nope.yaml\nname: r\n"},
			"r.yaml:1:10: cannot read the base recipe"},
		{"cycle", map[string]string{
			"r.yaml": "extends: s.yaml\nname: r\n",
			"s.yaml": "extends: r.yaml\nname: s\n"},
			"s.yaml:1:10: extends r.yaml makes a cycle"},
		{"error in the base has the base's place", map[string]string{
			"r.yaml": "extends: b.yaml\nname: r\n",
			"b.yaml": "name: b\ncomponents:\n  - name: c\n    stepz: []\n"},
			"b.yaml:4:5: component c: unknown key \"stepz\""},
		{"no name of its own", map[string]string{
			"r.yaml": "extends: b.yaml\n",
			"b.yaml": baseRecipe},
			"r.yaml:1:1: the recipe has no name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load(filepath.Join(dir, "r.yaml"))
			if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), dir+"/", ""), tt.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestRecipeFiles: a recipe knows every file it was loaded from, itself
// first, as absolute paths, however it was named — what a board or a pod
// must be sent to load it again.
func TestRecipeFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base.yaml", "name: base\ncomponents:\n  - name: a\n    steps:\n      - name: s\n        run: true\n")
	write("mid.yaml", "extends: base.yaml\nname: mid\n")
	write("top.yaml", "extends: ./mid.yaml\nname: top\n")
	t.Chdir(dir)
	for _, tc := range []struct {
		load string
		want []string
	}{
		{"top.yaml", []string{"top.yaml", "mid.yaml", "base.yaml"}},
		{filepath.Join(dir, "mid.yaml"), []string{"mid.yaml", "base.yaml"}},
		{"base.yaml", []string{"base.yaml"}},
	} {
		r, err := Load(tc.load)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, f := range tc.want {
			want = append(want, filepath.Join(dir, f))
		}
		if fmt.Sprint(r.Files) != fmt.Sprint(want) {
			t.Errorf("Load(%s).Files = %v, want %v", tc.load, r.Files, want)
		}
	}
}
