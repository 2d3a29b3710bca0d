package patchwork

import (
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// contextLines is the context git diff writes by default.
const contextLines = 3

// fragments computes the unified-diff hunks turning old into new, with
// three lines of context, as gitdiff fragments ready to format.
func fragments(old, new string) []*gitdiff.TextFragment {
	var ops []gitdiff.Line
	for _, d := range diff.Do(old, new) {
		op := gitdiff.OpContext
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			op = gitdiff.OpAdd
		case diffmatchpatch.DiffDelete:
			op = gitdiff.OpDelete
		}
		for _, l := range strings.SplitAfter(d.Text, "\n") {
			if l != "" {
				ops = append(ops, gitdiff.Line{Op: op, Line: l})
			}
		}
	}
	var frags []*gitdiff.TextFragment
	for i := 0; i < len(ops); {
		if ops[i].Op == gitdiff.OpContext {
			i++
			continue
		}
		start := max(0, i-contextLines)
		end := hunkEnd(ops, i)
		frags = append(frags, fragment(ops, start, end))
		i = end
	}
	return frags
}

// hunkEnd returns the end (exclusive) of the hunk whose first change is at
// i: changes closer than twice the context join one hunk, as in diff.
func hunkEnd(ops []gitdiff.Line, i int) int {
	last := i
	for j := i; j < len(ops); j++ {
		if ops[j].Op != gitdiff.OpContext {
			last = j
		} else if j-last > 2*contextLines {
			break
		}
	}
	return min(len(ops), last+contextLines+1)
}

// fragment builds the hunk for ops[start:end].
func fragment(ops []gitdiff.Line, start, end int) *gitdiff.TextFragment {
	var oldBefore, newBefore int64
	for _, l := range ops[:start] {
		if l.Old() {
			oldBefore++
		}
		if l.New() {
			newBefore++
		}
	}
	f := &gitdiff.TextFragment{Lines: append([]gitdiff.Line(nil), ops[start:end]...)}
	for _, l := range f.Lines {
		switch l.Op {
		case gitdiff.OpContext:
			f.OldLines++
			f.NewLines++
			if f.LinesAdded == 0 && f.LinesDeleted == 0 {
				f.LeadingContext++
			} else {
				f.TrailingContext++
			}
		case gitdiff.OpAdd:
			f.NewLines++
			f.LinesAdded++
			f.TrailingContext = 0
		case gitdiff.OpDelete:
			f.OldLines++
			f.LinesDeleted++
			f.TrailingContext = 0
		}
	}
	// An empty side starts "after" the line before it (0 at the top).
	f.OldPosition, f.NewPosition = oldBefore+1, newBefore+1
	if f.OldLines == 0 {
		f.OldPosition = oldBefore
	}
	if f.NewLines == 0 {
		f.NewPosition = newBefore
	}
	return f
}
