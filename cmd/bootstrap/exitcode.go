package main

import (
	"context"
	"errors"
	"syscall"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/cmd/internal/cliargs"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// The exit codes, documented in the app's --help.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitLocked = 3
	// exitSignal plus the signal's number: 130 for SIGINT, 143 for
	// SIGTERM, what a shell reports for a process the signal killed.
	exitSignal = 128
)

// usageError is a command used wrongly: missing arguments, bad flags.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitCode maps an error to the documented exit codes in one place.
func exitCode(err error) int {
	var (
		locked   *state.LockedError
		list     recipe.ErrorList
		one      *recipe.Error
		usage    *usageError
		cliUsage *cliargs.UsageError
		runUsage *runner.UsageError
		native   *arch.NotNativeError
		invalid  *invalidError
		sig      *runner.SignalError
		work     *workdir.Error
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &sig): // first: whatever else broke, a signal stopped it
		if n, ok := sig.Signal.(syscall.Signal); ok {
			return exitSignal + int(n)
		}
		return exitFailed
	case errors.As(err, &locked):
		return exitLocked
	case errors.As(err, &list), errors.As(err, &one), errors.As(err, &usage), errors.As(err, &cliUsage),
		errors.As(err, &runUsage), errors.As(err, &native), errors.As(err, &invalid),
		errors.As(err, &work): // not a work dir, or one that cannot be created or locked
		return exitUsage
	case errors.Is(err, errChecksFailed):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitFailed
	}
	if isCLIUsage(err) {
		return exitUsage
	}
	return exitFailed
}
