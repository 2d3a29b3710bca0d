package k8sjob

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// TestNames checks that recipe names, however written, become valid
// object names and label values, and that long ones stay apart.
func TestNames(t *testing.T) {
	long := "bootstrap-" + strings.Repeat("very-long-recipe-name-", 5) + "ppc64le"
	tests := []struct{ in, label, value string }{
		{"bootstrap-power8-ppc64le", "bootstrap-power8-ppc64le", "bootstrap-power8-ppc64le"},
		{"bootstrap-Go_1.19 (gccgo)-386", "bootstrap-go-1-19-gccgo-386", "bootstrap-Go_1.19-gccgo-386"},
		{"--x--", "x", "x"},
	}
	for _, tt := range tests {
		if got := dnsLabel(tt.in, 63); got != tt.label {
			t.Errorf("dnsLabel(%q) = %q, want %q", tt.in, got, tt.label)
		}
		if got := labelValue(tt.in); got != tt.value {
			t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.value)
		}
	}
	a, b := dnsLabel(long, 63), dnsLabel(long+"x", 63)
	for _, l := range []string{a, b} {
		if errs := validation.IsDNS1123Label(l); len(errs) > 0 {
			t.Errorf("%q: %v", l, errs)
		}
	}
	if a == b {
		t.Errorf("two long names cut to the same label %q", a)
	}
	if errs := validation.IsValidLabelValue(labelValue(long + long)); len(errs) > 0 {
		t.Errorf("label value of a long name: %v", errs)
	}
}

// TestKeys checks ConfigMap keys: valid, and unique when two paths
// flatten alike.
func TestKeys(t *testing.T) {
	files := []File{{Rel: "a/b.patch"}, {Rel: "a__b.patch"}, {Rel: "pätches/x y.patch"}, {Rel: "a/b.patch"}}
	setKeys(files)
	want := []string{"a__b.patch", "a__b.patch.2", "p_tches__x_y.patch", "a__b.patch.3"}
	seen := map[string]bool{}
	for i, f := range files {
		if f.Key != want[i] {
			t.Errorf("key of %q = %q, want %q", f.Rel, f.Key, want[i])
		}
		if errs := validation.IsConfigMapKey(f.Key); len(errs) > 0 {
			t.Errorf("key %q: %v", f.Key, errs)
		}
		if seen[f.Key] {
			t.Errorf("key %q twice", f.Key)
		}
		seen[f.Key] = true
	}
}

// TestCommonDir checks the root of the shipped tree.
func TestCommonDir(t *testing.T) {
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"/r/recipes/a.yaml"}, "/r/recipes"},
		{[]string{"/r/patches/go/1.6/x.patch", "/r/recipes/a.yaml"}, "/r"},
		{[]string{"/r/recipes-old/a.yaml", "/r/recipes/b.yaml"}, "/r"},
		{[]string{"/a/x", "/b/y"}, "/"},
	}
	for _, tt := range tests {
		if got := commonDir(tt.paths); got != tt.want {
			t.Errorf("commonDir(%q) = %q, want %q", tt.paths, got, tt.want)
		}
	}
}

// TestLiteralBlocks checks that restyling multi-line strings as literal
// blocks never changes a value: each string decodes back as it was, and
// the ones a block can hold exactly are written as blocks.
func TestLiteralBlocks(t *testing.T) {
	values := map[string]string{
		"plain":    "one\ntwo\n",
		"noeol":    "one\ntwo",
		"indented": "  starts indented\nthen not\n",
		"tabs":     "a\tb\n\tc\n",
		"trailing": "space at the end  \nnext\n",
		"blank":    "\n\n\nx\n",
		"crlf":     "dos\r\nline\r\n",
		"yamlish":  "key: value\n- item\n# not a comment\n---\n",
		"single":   "no newline here",
	}
	doc, err := yaml.Marshal(map[string]any{"data": values})
	if err != nil {
		t.Fatal(err)
	}
	out, err := literalBlocks(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict(out, &back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for k, v := range values {
		if back.Data[k] != v {
			t.Errorf("%s: %q came back as %q", k, v, back.Data[k])
		}
	}
	for _, k := range []string{"plain", "indented", "yamlish"} {
		if !strings.Contains(string(out), k+": |") {
			t.Errorf("%s is not a literal block:\n%s", k, out)
		}
	}
}

// TestPlacementEveryTarget checks that every target of the arch table has
// a placement on a node architecture some kubelet reports, and that the
// targets sharing one are told apart by VariantLabel.
func TestPlacementEveryTarget(t *testing.T) {
	kubelet := map[string]bool{"amd64": true, "arm64": true, "arm": true, "ppc64le": true, "s390x": true, "riscv64": true}
	byNode := map[string][]map[string]string{}
	for _, tgt := range arch.Targets() {
		p := PlacementFor(tgt)
		node := p.NodeSelector[ArchLabel]
		if !kubelet[node] {
			t.Errorf("%s: %s=%q, which no kubelet reports", tgt.Name, ArchLabel, node)
		}
		if len(p.Tolerations) != 1 || p.Tolerations[0].Value != node {
			t.Errorf("%s: tolerations %+v", tgt.Name, p.Tolerations)
		}
		byNode[node] = append(byNode[node], p.NodeSelector)
	}
	for node, sels := range byNode {
		if len(sels) < 2 {
			continue
		}
		variants := map[string]bool{}
		for _, s := range sels {
			variants[s[VariantLabel]] = true
		}
		if len(variants) != len(sels) {
			t.Errorf("targets on %s nodes are not told apart: %v", node, sels)
		}
	}
}

// TestRealRecipes builds the manifests of every recipe in recipes/ for
// every target it lists: each can be shipped, its Job runs it from the
// ConfigMap, and the ConfigMap carries the recipe, its bases and every
// patch file it names, each as it is on disk.
func TestRealRecipes(t *testing.T) {
	paths, err := filepath.Glob("../../recipes/*.yaml")
	if err != nil || len(paths) < 5 {
		t.Fatalf("recipes: %v %v", paths, err)
	}
	for _, path := range paths {
		r, err := recipe.Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, tgt := range r.Targets {
			m, err := Build(Options{Recipe: path, Target: tgt.Value, Image: "img", BackoffLimit: DefaultBackoffLimit})
			if err != nil {
				t.Errorf("%s for %s: %v", path, tgt.Value, err)
				continue
			}
			cmd := m.Job.Spec.Template.Spec.Containers[0].Command
			abs, _ := filepath.Abs(path)
			want := "the recipe, which is not shipped"
			for _, f := range m.Files {
				if f.Path == abs {
					want = RecipeMount + "/" + f.Rel
				}
			}
			if cmd[2] != want {
				t.Errorf("%s for %s: runs %s, want %s", path, tgt.Value, cmd[2], want)
			}
			patches := 0
			for _, c := range r.Components {
				for _, p := range c.Patches {
					if p.File.Value != "" {
						patches++
					}
				}
			}
			shipped := 0
			for _, f := range m.Files {
				data, err := os.ReadFile(f.Path)
				if err != nil || string(data) != m.ConfigMap.Data[f.Key] {
					t.Errorf("%s: %s not shipped as it is (%v)", path, f.Rel, err)
				}
				if strings.HasSuffix(f.Rel, ".patch") {
					shipped++
				}
			}
			if shipped < patches {
				t.Errorf("%s: %d patch files shipped, the recipe names %d", path, shipped, patches)
			}
		}
	}
}

// TestTooBigForAConfigMap checks that patches past what a ConfigMap holds
// are refused here, naming the recipe, rather than by the API server.
func TestTooBigForAConfigMap(t *testing.T) {
	dir := t.TempDir()
	recipeText := "name: big\ncomponents:\n  - name: c\n    source:\n      url: http://127.0.0.1:9/c.tar.gz\n" +
		"      sha256: 0000000000000000000000000000000000000000000000000000000000000001\n" +
		"    patches:\n      - file: big.patch\n    steps:\n      - name: s\n        run: true\n"
	path := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(path, []byte(recipeText), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{900 << 10, 1100 << 10} {
		patch := "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+" + strings.Repeat("x", size) + "\n"
		if err := os.WriteFile(filepath.Join(dir, "big.patch"), []byte(patch), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Build(Options{Recipe: path, Target: "amd64", Image: "img"})
		var re *recipe.Error
		switch {
		case size < configMapMax && err != nil:
			t.Errorf("%d bytes: %v", size, err)
		case size > configMapMax && (!errors.As(err, &re) || !strings.Contains(err.Error(), "more than a ConfigMap holds")):
			t.Errorf("%d bytes: error %v, want a recipe error saying it does not fit", size, err)
		}
	}
}
