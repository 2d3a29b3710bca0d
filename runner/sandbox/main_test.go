package sandbox

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets this test binary stand in for bootstrap when a test
// starts a sandbox (it re-executes itself, as bootstrap does), and run
// the helpers that need a mount namespace of their own.
func TestMain(m *testing.M) {
	if IsEnter() {
		fmt.Fprintln(os.Stderr, "bootstrap:", Enter())
		os.Exit(126)
	}
	if dir := os.Getenv(remountHelperEnv); dir != "" {
		if err := remountHelper(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
