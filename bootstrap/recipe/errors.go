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
// returned as a whole so that a porter fixes a file in one pass.
type ErrorList []*Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the list by file, line and column, keeping the order of
// problems found at the same place.
func (l ErrorList) Sort() {
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

// errorf records a problem at pos.
func (l *ErrorList) errorf(pos Pos, comp, step, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Component: comp, Step: step, Msg: fmt.Sprintf(format, args...)})
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
