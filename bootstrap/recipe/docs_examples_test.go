package recipe_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

var exampleRE = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocsExamplesLoad loads every YAML example of the README and
// docs/recipe.md that is a whole recipe (a top-level name: and
// components:, no extends:) and compiles it for each target it lists, as
// `bootstrap validate` does, so that neither page shows a recipe
// bootstrap rejects.
func TestDocsExamplesLoad(t *testing.T) {
	amd64, _ := arch.Lookup("amd64")
	for _, file := range []string{"README.md", "docs/recipe.md"} {
		data, err := os.ReadFile("../../" + file)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range exampleRE.FindAllStringSubmatch(string(data), -1) {
			text := m[1]
			if !strings.HasPrefix(text, "name:") && !strings.Contains(text, "\nname:") ||
				!strings.Contains(text, "\ncomponents:") || strings.Contains(text, "\nextends:") {
				continue
			}
			n++
			r, err := recipe.Parse(file, []byte(text))
			if err != nil {
				t.Errorf("an example recipe in %s does not load:\n%v\n%s", file, err, text)
				continue
			}
			for _, tgt := range r.Targets {
				_, err := plan.Compile(r, plan.Options{WorkDir: "/work", Target: tgt.Value, Host: arch.Host{Target: amd64},
					Jobs: 1, SkipContentHashes: true, Getenv: func(string) (string, bool) { return "", true }})
				if err != nil {
					t.Errorf("an example recipe in %s does not compile for %s:\n%v", file, tgt.Value, err)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s has no whole example recipe", file)
		}
	}
}
