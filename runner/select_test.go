package runner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/runner"
)

// TestSelectionRefused checks that selections which cannot mean anything
// are usage errors that run nothing, both from Run and from Selected (what
// `run --offline` checks first).
func TestSelectionRefused(t *testing.T) {
	tests := []struct {
		name string
		sel  runner.Selection
		want string
	}{
		{"only with from", runner.Selection{From: "a", Only: []string{"b:x"}},
			"--only and --from do not go together: --only b:x runs just the steps named, --from a reruns everything after a step"},
		{"to before from", runner.Selection{To: "b:x", From: "c:x"}, "--to b:x with --from c:x select no step: nothing would run"},
		{"to and only apart", runner.Selection{To: "b:x", Only: []string{"c"}}, "--to b:x with --only c select no step"},
		{"unknown step", runner.Selection{Only: []string{"e"}}, `--only: no step or component "e"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, diamond)
			ran, _, err := f.run(runner.Options{Selection: tt.sel})
			var ue *runner.UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: %v, want a UsageError containing %q", err, tt.want)
			}
			if len(ran) != 0 {
				t.Errorf("Run ran %v", ran)
			}
			if _, err := tt.sel.Selected(f.plan()); !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Selected: %v, want a UsageError containing %q", err, tt.want)
			}
		})
	}
}
