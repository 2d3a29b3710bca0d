package executor

import "github.com/porterkit/bootstrap/runner/sandbox"

// IsEnter reports whether this process was started to enter a step's
// sandbox (on the host, or in a root file system), so that main (or a test
// binary's TestMain) calls Enter before anything else.
func IsEnter() bool { return sandbox.IsEnter() }

// Enter sets up the sandbox (see sandbox.Enter) and executes the step's
// command in it, replacing this process. It returns only on failure.
func Enter() error { return sandbox.Enter() }
