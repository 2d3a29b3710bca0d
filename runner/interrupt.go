package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// SignalError is the cause of a run cancelled by a signal: the CLI cancels
// its context with it (context.WithCancelCause), so that the runner can
// say which signal stopped it and the CLI can exit 128+signal. It is also
// context.Canceled for errors.Is.
type SignalError struct {
	Signal os.Signal
}

func (e *SignalError) Error() string { return "received " + SignalName(e.Signal) }

// Is makes a signal count as a cancellation for code that only knows
// context.Canceled.
func (e *SignalError) Is(target error) bool { return target == context.Canceled }

// SignalName is a signal's conventional name (SIGINT, SIGTERM), the one
// kill(1) and a porter's scripts use, rather than Go's description.
func SignalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	}
	return sig.String()
}

// InterruptedError is a run that stopped because its context was
// cancelled. Steps lists the steps that were running then: they were
// stopped, left no checkpoint, and their attempts say interrupted.
type InterruptedError struct {
	// Cause is context.Cause of the run's context: a *SignalError after a
	// signal, context.Canceled otherwise.
	Cause error
	// Steps are the steps that were running, in plan order.
	Steps []string
}

func (e *InterruptedError) Error() string {
	why := "cancelled"
	var sig *SignalError
	if errors.As(e.Cause, &sig) {
		why = SignalName(sig.Signal)
	}
	switch len(e.Steps) {
	case 0:
		return fmt.Sprintf("interrupted (%s) between steps; the next run continues from there", why)
	case 1:
		return fmt.Sprintf("interrupted (%s) while %s was running; the next run restarts it", why, e.Steps[0])
	}
	return fmt.Sprintf("interrupted (%s) while %s were running; the next run restarts them", why, strings.Join(e.Steps, ", "))
}

// Unwrap gives errors.As the *SignalError, and errors.Is
// context.Canceled.
func (e *InterruptedError) Unwrap() error {
	if e.Cause == nil {
		return context.Canceled
	}
	return e.Cause
}

// interruptedBy names the signal behind a cancelled context, "" when it
// was cancelled otherwise.
func interruptedBy(ctx context.Context) string {
	var sig *SignalError
	if errors.As(context.Cause(ctx), &sig) {
		return SignalName(sig.Signal)
	}
	return ""
}

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM,
// with a *SignalError as its cause (main's only context), so that the run can say which
// signal stopped it and which step it was at, and exit 128+signal. After
// that first signal the default action is back: a second Ctrl-C kills at
// once, whatever the run is still cleaning up. (signal.NotifyContext's cause
// is only a string.)
func SignalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-sigs:
			signal.Stop(sigs)
			cancel(&SignalError{Signal: sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

// WithSignal makes a command that failed because a signal cancelled it
// (a fetch, a download) say so and exit 128+signal, as a run does.
func WithSignal(ctx context.Context, err error) error {
	var sig *SignalError
	if err == nil || errors.As(err, &sig) || !errors.As(context.Cause(ctx), &sig) {
		return err
	}
	return fmt.Errorf("interrupted (%s): %w", SignalName(sig.Signal), &signalled{sig: sig, err: err})
}

// signalled is an error that a signal caused: errors.As finds both.
type signalled struct {
	sig *SignalError
	err error
}

func (e *signalled) Error() string   { return e.err.Error() }
func (e *signalled) Unwrap() []error { return []error{e.err, e.sig} }
