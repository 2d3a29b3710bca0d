package plan

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// TestValidateAll validates real recipes of the project and broken ones
// from testdata together: the report counts each one's problems, a
// missing file is a problem placed at the file, and a valid recipe has an
// empty (not null) problem list.
func TestValidateAll(t *testing.T) {
	host, err := arch.DetectHost()
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join("..", "..", "recipes", "power8.yaml")
	bad := filepath.Join("testdata", "invalid", "multi-error.yaml")
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	rep := ValidateAll([]string{good, bad, missing}, host)
	if rep.OK || len(rep.Recipes) != 3 {
		t.Fatalf("report: ok %v, %d recipes", rep.OK, len(rep.Recipes))
	}
	g, b, m := rep.Recipes[0], rep.Recipes[1], rep.Recipes[2]
	if !g.OK || g.Problems == nil || len(g.Problems) != 0 {
		t.Errorf("%s: ok %v, problems %v", good, g.OK, g.Problems)
	}
	if b.OK || len(b.Problems) < 2 {
		t.Errorf("%s: want several problems, got %v", bad, b.Problems)
	}
	for _, p := range b.Problems {
		if p.File != bad || p.Line == 0 {
			t.Errorf("%s: problem without its place: %+v", bad, p)
		}
	}
	if m.OK || len(m.Problems) != 1 || m.Problems[0].Line != 0 || !strings.Contains(m.Problems[0].Message, "no such") {
		t.Errorf("%s: %+v", missing, m.Problems)
	}
	if want := len(b.Problems) + len(m.Problems); rep.Problems != want {
		t.Errorf("report counts %d problems, want %d", rep.Problems, want)
	}
}
