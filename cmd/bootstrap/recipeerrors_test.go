package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestYAMLErrorLine: a syntax error is reported at the line it is on, by
// every command that loads the recipe.
func TestYAMLErrorLine(t *testing.T) {
	dir := t.TempDir()
	// Line 7 is indented under a scalar: yaml.v3 blames the block that
	// starts on line 2.
	text := "name: broken\ncomponents:\n  - name: a\n    steps:\n      - name: x\n        run: true\n       oops: 1\n"
	path := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"validate", "plan", "run"} {
		r := bs(t, dir, cmd, "broken.yaml")
		if r.code != 2 || !strings.Contains(r.stderr, "broken.yaml:7:") {
			t.Errorf("%s: exit %d, want 2 and the error at broken.yaml:7\n%s", cmd, r.code, r.stderr)
		}
	}
}

// TestErrorCap: a recipe with thousands of problems prints the first 50
// and one line counting the rest, not one line each.
func TestErrorCap(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("name: many\n")
	const n = 5000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "unknown%d: x\n", i)
	}
	b.WriteString("components:\n  - name: a\n    steps:\n      - name: x\n        run: true\n")
	if err := os.WriteFile(filepath.Join(dir, "many.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := bs(t, dir, "validate", "many.yaml")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 2 || len(lines) > 60 {
		t.Fatalf("exit %d, %d lines of errors, want 2 and at most 60", r.code, len(lines))
	}
	if want := fmt.Sprintf("and %d more problems", n-50); !strings.Contains(r.stderr, want) {
		t.Errorf("no %q in\n%s", want, strings.Join(lines[len(lines)-3:], "\n"))
	}
}
