package runner_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/porterkit/bootstrap/runner/sandbox"
)

// TestMain lets this test binary stand in for bootstrap when a session's
// run step re-executes /proc/self/exe to enter its sandbox, as
// cmd/bootstrap's main does.
func TestMain(m *testing.M) {
	if sandbox.IsEnter() {
		fmt.Fprintln(os.Stderr, "bootstrap:", sandbox.Enter())
		os.Exit(126)
	}
	os.Exit(m.Run())
}
