// Package progress shows what a run is doing. All output of the runner goes
// through the Printer interface: a terminal implementation draws a live
// status line with a progress bar, a plain one writes timestamped lines for
// CI logs, and tests use the plain one with a fixed clock.
package progress

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Printer receives the events of a run. Implementations must be safe for
// concurrent use: steps run in parallel.
type Printer interface {
	// Start announces a run of toRun steps out of total, of which the
	// run's selection (--to, --from, --only) covers selected.
	Start(total, selected, toRun int)
	// StepStart says a step began; eta is its last successful duration (0
	// when unknown).
	StepStart(id string, eta time.Duration)
	// StepLine passes the latest line of a step's output.
	StepLine(id, line string)
	// StepDone says a step finished after d.
	StepDone(id string, d time.Duration)
	// StepFailed says a step failed.
	StepFailed(id string, err error)
	// Printf writes a message line.
	Printf(format string, args ...any)
	// Close ends the display.
	Close()
}

// Plain writes one timestamped line per event, for logs and CI.
type Plain struct {
	mu  sync.Mutex
	out io.Writer
	// Now is the clock; tests fix it.
	Now func() time.Time
	// Lines, when true, also prints every output line of every step.
	Lines bool
}

// NewPlain returns a Plain printer writing to out.
func NewPlain(out io.Writer) *Plain { return &Plain{out: out, Now: time.Now} }

func (p *Plain) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%s %s\n", p.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Start implements Printer.
func (p *Plain) Start(total, selected, toRun int) {
	if toRun == 0 {
		p.line("%s", NothingToRun(total, selected))
		return
	}
	p.line("running %d of %d steps", toRun, total)
}

// StepStart implements Printer.
func (p *Plain) StepStart(id string, eta time.Duration) {
	if eta > 0 {
		p.line("start %s (took %s last time)", id, Round(eta))
		return
	}
	p.line("start %s", id)
}

// StepLine implements Printer.
func (p *Plain) StepLine(id, line string) {
	if p.Lines {
		p.line("%s | %s", id, line)
	}
}

// StepDone implements Printer.
func (p *Plain) StepDone(id string, d time.Duration) { p.line("done  %s in %s", id, Round(d)) }

// StepFailed implements Printer.
func (p *Plain) StepFailed(id string, err error) { p.line("FAIL  %s: %v", id, err) }

// Printf implements Printer.
func (p *Plain) Printf(format string, args ...any) { p.line(format, args...) }

// Close implements Printer.
func (p *Plain) Close() {}

// Round shortens a duration for display.
func Round(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// Terminal draws a progress bar of finished steps whose description shows
// each running step with its elapsed time, its ETA from the last run and the
// last line of its log. Finished and failed steps scroll above it.
type Terminal struct {
	mu      sync.Mutex
	out     io.Writer
	bar     *progressbar.ProgressBar
	running map[string]*running
	stop    chan struct{}
	width   int
}

type running struct {
	start time.Time
	eta   time.Duration
	line  string
}

// NewTerminal returns a Terminal printer for a terminal width columns wide.
func NewTerminal(out io.Writer, width int) *Terminal {
	if width <= 0 {
		width = 80
	}
	return &Terminal{out: out, running: map[string]*running{}, stop: make(chan struct{}), width: width}
}

// Start implements Printer.
func (t *Terminal) Start(total, selected, toRun int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if toRun == 0 {
		fmt.Fprintln(t.out, NothingToRun(total, selected))
		return
	}
	t.bar = progressbar.NewOptions(toRun,
		progressbar.OptionSetWriter(t.out),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	)
	go t.tick()
}

func (t *Terminal) tick() {
	tk := time.NewTicker(250 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tk.C:
			t.mu.Lock()
			t.describe()
			t.mu.Unlock()
		}
	}
}

// describe updates the bar's description; the caller holds mu.
func (t *Terminal) describe() {
	if t.bar == nil {
		return
	}
	ids := make([]string, 0, len(t.running))
	for id := range t.running {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		r := t.running[id]
		s := fmt.Sprintf("%s %s", id, Round(time.Since(r.start).Truncate(time.Second)))
		if r.eta > 0 {
			s += "/" + Round(r.eta)
		}
		if len(ids) == 1 && r.line != "" {
			s += " | " + r.line
		}
		parts = append(parts, s)
	}
	desc := strings.Join(parts, ", ")
	if max := t.width - 40; max > 10 && len(desc) > max {
		desc = desc[:max-1] + "…"
	}
	t.bar.Describe(desc)
}

// StepStart implements Printer.
func (t *Terminal) StepStart(id string, eta time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running[id] = &running{start: time.Now(), eta: eta}
	t.describe()
}

// StepLine implements Printer.
func (t *Terminal) StepLine(id, line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.running[id]; r != nil {
		r.line = strings.Map(func(c rune) rune {
			if c < ' ' {
				return ' '
			}
			return c
		}, line)
	}
}

// above prints a line above the bar; the caller holds mu.
func (t *Terminal) above(format string, args ...any) {
	if t.bar != nil {
		t.bar.Clear()
	}
	fmt.Fprintf(t.out, format+"\n", args...)
	if t.bar != nil {
		t.describe()
		t.bar.RenderBlank()
	}
}

// StepDone implements Printer.
func (t *Terminal) StepDone(id string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.running, id)
	t.above("done  %s in %s", id, Round(d))
	if t.bar != nil {
		t.bar.Add(1)
	}
}

// StepFailed implements Printer.
func (t *Terminal) StepFailed(id string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.running, id)
	t.above("FAIL  %s: %v", id, err)
}

// Printf implements Printer.
func (t *Terminal) Printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.above(format, args...)
}

// Close implements Printer.
func (t *Terminal) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stop:
		return
	default:
		close(t.stop)
	}
	if t.bar != nil {
		t.bar.Finish()
		fmt.Fprintln(t.out)
	}
}

// NothingToRun is what a run with nothing to do says. With a selection it
// counts the selected steps: the others may well not be done.
func NothingToRun(total, selected int) string {
	if selected == total {
		return fmt.Sprintf("all %d steps are done; nothing to run", total)
	}
	return fmt.Sprintf("the %d selected steps are done (of %d in the plan); nothing to run", selected, total)
}
