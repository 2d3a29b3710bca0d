package recipe

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a recipe, with the place it was found and the
// component and step it belongs to (empty when not inside one).
type Error struct {
	Pos       Pos
	Component string
	Step      string
	Msg       string
	// More is set on the last entry of a list that reached MaxErrors: it
	// counts the problems found past the cap, and Pos is the first of them.
	More int
}

// Error formats the problem as "file:line:col: component c, step s: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Component != "" {
		b.WriteString("component " + e.Component)
		if e.Step != "" {
			b.WriteString(", step " + e.Step)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a recipe, sorted by position. It is
// returned as a whole so that a porter fixes a file in one pass — up to
// MaxErrors of them; past that, the problems are only counted, in one last
// entry that says "… and N more problems".
type ErrorList []*Error

// MaxErrors is how many problems an ErrorList holds before it only counts
// them. A file that is not a recipe at all (a 600,000-key mapping) would
// otherwise take seconds and hundreds of megabytes to print 600,000 lines
// nobody reads; fifty is more than one screen and enough to see a pattern.
const MaxErrors = 50

// Add appends e, or counts it once the list holds MaxErrors problems. An
// e that is itself the "… and N more" entry of another list adds its count,
// so that lists joined with Add stay capped and the total stays exact.
func (l *ErrorList) Add(e *Error) {
	switch {
	case e.More > 0:
		l.count(e.Pos, e.More)
	case l.Full():
		l.count(e.Pos, 1)
	default:
		if k := len(*l); k > 0 && (*l)[k-1].More > 0 {
			// Keep the count last: insert before it.
			*l = append((*l)[:k-1], e, (*l)[k-1])
			return
		}
		*l = append(*l, e)
	}
}

// Full reports whether the list holds MaxErrors problems, so that a caller
// can skip building a message that would only be counted.
func (l ErrorList) Full() bool {
	n := len(l)
	if n > 0 && l[n-1].More > 0 {
		n--
	}
	return n >= MaxErrors
}

// Count is the number of problems found, those past the cap included.
func (l ErrorList) Count() int {
	n := 0
	for _, e := range l {
		if e.More > 0 {
			n += e.More
			continue
		}
		n++
	}
	return n
}

// count records n problems that are not kept, the first of them at pos.
func (l *ErrorList) count(pos Pos, n int) {
	k := len(*l)
	if k == 0 || (*l)[k-1].More == 0 {
		*l = append(*l, &Error{Pos: pos})
		k++
	}
	last := (*l)[k-1]
	last.More += n
	last.Msg = fmt.Sprintf("… and %d more problem%s (not shown; the first of them is here)", last.More, plural(last.More))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the list by file, line and column, keeping the order of
// problems found at the same place; the "… and N more" entry stays last.
func (l ErrorList) Sort() {
	if n := len(l); n > 0 && l[n-1].More > 0 {
		l = l[:n-1]
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Err returns the list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// errorf records a problem at pos; past MaxErrors it only counts it, without
// formatting the message.
func (l *ErrorList) errorf(pos Pos, comp, step, format string, args ...any) {
	if l.Full() {
		l.count(pos, 1)
		return
	}
	l.Add(&Error{Pos: pos, Component: comp, Step: step, Msg: fmt.Sprintf(format, args...)})
}

// suggest returns ` (did you mean "x"?)` when one of the candidates is close
// to name, and "" otherwise.
func suggest(name string, candidates []string) string {
	// Short names are only matched closely: "zz" is not a typo of "a".
	best, bestDist := "", min(3, len(name)/2+1)
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Suggest is suggest for other packages of the model (expansion names).
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
