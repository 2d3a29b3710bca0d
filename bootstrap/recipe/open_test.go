package recipe_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// TestLoadNotAFile checks that a recipe path that is missing, a directory
// or unreadable is one *recipe.Error naming the path (exit 2 in the CLI),
// not a plain error.
func TestLoadNotAFile(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "secret.yaml")
	if err := os.WriteFile(unreadable, []byte("name: x\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nosuch.yaml"), filepath.Join(dir, "nosuch.yaml") + ": no such recipe file"},
		{"directory", dir, dir + ": is a directory, not a recipe file (`bootstrap list " + dir + "` lists the recipes in it)"},
		{"unreadable", unreadable, unreadable + ": cannot read the recipe: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "unreadable" && os.Geteuid() == 0 {
				t.Skip("root reads a mode 000 file")
			}
			_, err := recipe.Load(tt.path)
			var re *recipe.Error
			if !errors.As(err, &re) || err.Error() != tt.want {
				t.Errorf("Load(%s) = %#v (%v)\nwant a *recipe.Error %q", tt.path, err, err, tt.want)
			}
		})
	}
}
