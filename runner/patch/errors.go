package patch

import (
	"fmt"
	"strings"
)

// HunkError reports a hunk that does not apply: which patch file and line,
// which target file, the hunk header, and the lines the hunk expects next
// to the lines actually in the file where it fits best.
type HunkError struct {
	// Patch is the patch file; PatchLine the line of the hunk's "@@" header
	// in it (0 when unknown).
	Patch     string
	PatchLine int
	// Target is the file being patched, relative to the tree.
	Target string
	// Hunk is the 1-based number of the hunk within its file.
	Hunk   int
	Header string
	// Line is the 1-based line where the hunk was expected.
	Line int
	// Fuzz is the fuzz that was allowed. FuzzNeeded is more than Fuzz when
	// the hunk would apply with that much (at FuzzLine), else 0.
	Fuzz       int
	FuzzNeeded int
	FuzzLine   int
	// Expected are the hunk's old lines (context and deletions). Actual are
	// the same number of file lines from ActualLine (1-based) on.
	Expected   []string
	Actual     []string
	ActualLine int
}

// Error returns a headline and the side-by-side comparison.
func (e *HunkError) Error() string {
	var b strings.Builder
	b.WriteString(e.Summary())
	b.WriteString("\n")
	b.WriteString(sideBySide(e.Expected, e.Actual, e.ActualLine, e.Target))
	return strings.TrimRight(b.String(), "\n")
}

// Summary is the headline of the error, on one line.
func (e *HunkError) Summary() string {
	why := "its context does not match"
	if e.FuzzNeeded > 0 {
		why = fmt.Sprintf("it would apply at line %d only with fuzz %d, and fuzz %d is allowed (raise `fuzz:` or refresh the patch)",
			e.FuzzLine, e.FuzzNeeded, e.Fuzz)
	}
	return fmt.Sprintf("%s: hunk #%d %s does not apply to %s at line %d: %s",
		location(e.Patch, e.PatchLine), e.Hunk, e.Header, e.Target, e.Line, why)
}

// FileError reports a file-level problem: a missing target, a file that
// already exists, a path outside the tree, a binary patch that does not
// match.
type FileError struct {
	Patch     string
	PatchLine int
	// Target is the file, relative to the tree (may be empty when the
	// name itself is the problem).
	Target string
	Err    error
}

func (e *FileError) Error() string {
	if e.Target == "" {
		return fmt.Sprintf("%s: %v", location(e.Patch, e.PatchLine), e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", location(e.Patch, e.PatchLine), e.Target, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// AlreadyAppliedError reports a patch whose changes are already in the
// tree: it does not apply, but its reverse applies cleanly.
type AlreadyAppliedError struct {
	Patch string
	// Cause is the error from applying the patch forward.
	Cause error
}

func (e *AlreadyAppliedError) Error() string {
	return fmt.Sprintf("%s: already applied (its reverse applies cleanly): remove it from the patch set, or start from a fresh, unpatched tree", e.Patch)
}

func location(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// colWidth is the width of the "expected" column; longer lines are cut.
const colWidth = 48

// sideBySide lays out the hunk's expected lines next to the file's, marking
// lines that differ with '!'.
func sideBySide(expected, actual []string, actualLine int, target string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-*s     %s\n", colWidth, "expected (from the patch)", fmt.Sprintf("found in %s", target))
	for i := 0; i < max(len(expected), len(actual)); i++ {
		var ex, ac string
		haveEx, haveAc := i < len(expected), i < len(actual)
		if haveEx {
			ex = expected[i]
		}
		if haveAc {
			ac = actual[i]
		}
		mark := "|"
		if ex != ac {
			mark = "!"
		}
		num := ""
		if haveAc {
			num = fmt.Sprintf("%d", actualLine+i)
		}
		left := show(ex, haveEx, colWidth)
		fmt.Fprintf(&b, "  %-*s %s %5s %s\n", colWidth, left, mark, num, show(ac, haveAc, 0))
	}
	return b.String()
}

// show makes a line printable in a column: tabs expanded, the line end
// dropped (a missing one or a CR is shown, as they are often the cause).
func show(s string, present bool, width int) string {
	if !present {
		return "~"
	}
	var suffix string
	switch {
	case strings.HasSuffix(s, "\r\n"):
		s, suffix = s[:len(s)-2], `\r`
	case strings.HasSuffix(s, "\n"):
		s = s[:len(s)-1]
	default:
		suffix = " \\ no newline at end"
	}
	s = strings.ReplaceAll(s, "\t", "    ") + suffix
	if width > 0 && len([]rune(s)) > width {
		s = string([]rune(s)[:width-1]) + "…"
	}
	return s
}

// EscapeError reports a patch that would reach outside the source tree: a
// header name that is absolute or has a ".." component after -pN (on any
// header line, chosen or not), a symlink whose target leads out of the
// tree, or a file reached through such a symlink. The whole patch is
// refused and the tree left as it was.
type EscapeError struct {
	// Patch is the patch file; PatchLine the line of the name or of the
	// file's header (0 when unknown).
	Patch     string
	PatchLine int
	// Name is the offending name as the patch writes it, or the path in
	// the tree of the symlink or file.
	Name string
	// Why says how it leaves the tree.
	Why string
}

func (e *EscapeError) Error() string {
	return fmt.Sprintf("%s: refusing %q, outside the source tree: %s", location(e.Patch, e.PatchLine), e.Name, e.Why)
}
