package progress

import (
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// Options say how a run asked to be shown.
type Options struct {
	// Plain asks for timestamped lines even on a terminal (--plain).
	Plain bool
	// Verbose shows every step's output (--verbose): lines, not a bar
	// that the output would tear.
	Verbose bool
	// Quiet shows only failures and what the run prints at its end
	// (--quiet).
	Quiet bool
}

// Choose picks the printer for a run writing to out: Quiet when asked;
// the Terminal display when out is a terminal, unless Plain or Verbose
// is set, NO_COLOR is set to anything (https://no-color.org) or TERM is
// "dumb" (Emacs shells, serial consoles), which cannot redraw a line;
// else Plain. getenv reads the environment (os.Getenv when nil).
func Choose(out io.Writer, o Options, getenv func(string) string) Printer {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch {
	case o.Quiet:
		return NewQuiet(out)
	case o.Plain, o.Verbose, getenv("NO_COLOR") != "", getenv("TERM") == "dumb":
		return NewPlain(out)
	}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		w, _, _ := term.GetSize(int(f.Fd()))
		return NewTerminal(out, w)
	}
	return NewPlain(out)
}

// Quiet prints only what a porter must see: failed steps, and that there
// was nothing to run. The caller prints its own summary line at the end.
type Quiet struct{ p *Plain }

// NewQuiet returns a Quiet printer writing timestamped lines to out.
func NewQuiet(out io.Writer) *Quiet { return &Quiet{p: NewPlain(out)} }

// SetClock fixes the clock of the timestamps, for tests.
func (q *Quiet) SetClock(now func() time.Time) { q.p.Now = now }

// Start implements Printer: it says only that there was nothing to run,
// which is then the run's summary.
func (q *Quiet) Start(total, selected, toRun int) {
	if toRun == 0 {
		q.p.Start(total, selected, toRun)
	}
}

// StepStart implements Printer; it prints nothing.
func (q *Quiet) StepStart(string, time.Duration) {}

// StepLine implements Printer; it prints nothing.
func (q *Quiet) StepLine(string, string) {}

// StepDone implements Printer; it prints nothing.
func (q *Quiet) StepDone(string, time.Duration) {}

// StepFailed implements Printer.
func (q *Quiet) StepFailed(id string, err error) { q.p.StepFailed(id, err) }

// Printf implements Printer; it prints nothing.
func (q *Quiet) Printf(string, ...any) {}

// Close implements Printer.
func (q *Quiet) Close() {}
