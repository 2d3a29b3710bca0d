package workflow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner"
)

// TestSeriesFor checks which series file patch save writes to.
func TestSeriesFor(t *testing.T) {
	dir := t.TempDir()
	r := &recipe.Recipe{File: filepath.Join(dir, "r.yaml"), Vars: []recipe.Var{
		{Name: recipe.Str{Value: "version"}, Value: recipe.Str{Value: "${{ go_version }}"}},
		{Name: recipe.Str{Value: "go_version"}, Value: recipe.Str{Value: "1.19.8"}},
	}}
	def := filepath.Join(dir, "patches/go/1.19.8/series")
	own := filepath.Join(dir, "mine/series")
	debian := plan.Patch{Series: "/w/src/go/debian/patches/series", Strip: 1, Digest: "in-source"}
	for _, tt := range []struct {
		name    string
		patches []plan.Patch
		want    string
		add     bool
		err     string
	}{
		{"none", nil, def, true, ""},
		{"last is in-source", []plan.Patch{{Series: own, Strip: 1}, debian}, def, true, ""},
		{"last is its own series", []plan.Patch{debian, {Series: own, Strip: 1}}, own, false, ""},
		{"own series with another strip", []plan.Patch{{Series: own, Strip: 0}}, def, true, ""},
		{"default listed but not last", []plan.Patch{{Series: def, Strip: 1}, {File: "/x.patch", Strip: 1}}, "", false, "not last"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &plan.Step{SrcDir: "/w/src/go", Patches: tt.patches}
			got, add, err := SeriesFor(r, st, "go")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want || add != tt.add {
				t.Errorf("SeriesFor = %s, %v, %v; want %s, %v", got, add, err, tt.want, tt.add)
			}
		})
	}
	if v := patchVersion(r, "gccgo-boot"); v != "local" {
		t.Errorf("patchVersion without a usable var = %q, want local", v)
	}
	st := &plan.Step{SrcDir: "/w/src/go", Patches: []plan.Patch{debian}}
	if got := runner.PatchesIn(st, "/tmp/fresh"); got[0].Series != "/tmp/fresh/debian/patches/series" || st.Patches[0].Series != debian.Series {
		t.Errorf("PatchesIn = %+v (step now %+v)", got, st.Patches)
	}
}

// TestPatchesDir: a recipe in recipes/ saves into the patches/ beside
// it, as this project's recipes do, unless it has patches/ of its own.
func TestPatchesDir(t *testing.T) {
	for _, tt := range []struct {
		name  string
		dirs  []string // made under a fresh temporary dir
		where string   // the recipe's dir
		want  string
	}{
		{"project layout", []string{"recipes", "patches"}, "recipes", "patches"},
		{"recipes with patches of its own", []string{"recipes/patches", "patches"}, "recipes", "recipes/patches"},
		{"no patches yet", []string{"recipes"}, "recipes", "recipes/patches"},
		{"another dir name", []string{"mine", "patches"}, "mine", "mine/patches"},
		{"top-level recipe", []string{"patches"}, ".", "patches"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			for _, d := range tt.dirs {
				if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := PatchesDir(filepath.Join(top, tt.where)), filepath.Join(top, tt.want); got != want {
				t.Errorf("PatchesDir = %s, want %s", got, want)
			}
		})
	}
}
