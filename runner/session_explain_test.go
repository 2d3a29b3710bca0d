package runner_test

import (
	"reflect"
	"testing"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
)

// TestChangeLines: how explain shows each kind of changed input.
func TestChangeLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    runner.Change
		want []string
	}{
		{"script", runner.Change{Key: "script", Old: "a\nb\nc", New: "a\nB\nc"}, []string{"  a", "- b", "+ B", "  c"}},
		{"packages", runner.Change{Key: executor.InputRootfsPackages, Old: "gcc:ppc64el 12.2\nmake:ppc64el 4.3", New: "gcc:ppc64el 12.3\nmake:ppc64el 4.3\nxz:ppc64el 5.4"},
			[]string{"+xz:ppc64el 5.4", "gcc:ppc64el 12.2 → 12.3"}},
		{"env", runner.Change{Key: "env.CC", Old: "gcc", New: "clang\n-O2"}, []string{"was: gcc", "now: clang\n       -O2"}},
		{"added", runner.Change{Key: "env.X", New: "1", Added: true}, []string{"now: 1"}},
		{"removed", runner.Change{Key: "env.X", Old: "1", Removed: true}, []string{"was: 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Lines(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Lines() = %q, want %q", got, tc.want)
			}
		})
	}
}
