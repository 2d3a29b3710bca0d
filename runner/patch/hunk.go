package patch

import (
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// placement is where one hunk went.
type placement struct {
	// start is the 0-based index in the file of the hunk's first old line
	// (for a hunk with no old lines, the index it inserts before).
	start  int
	offset int
	fuzz   int
	// eol is true when the hunk matched only after ignoring CR/LF
	// differences, and added lines were given the file's line endings.
	eol bool
}

// miss describes a hunk that could not be placed.
type miss struct {
	hunk int // 0-based index of the failed hunk
	// expected is the 0-based index where the hunk should have started
	// (its header position shifted by the previous hunk's offset).
	expected int
	// near is the 0-based index where the file looks most like the hunk.
	near int
	// fuzzed is the placement found with more fuzz than allowed, if any.
	fuzzed *placement
}

// lineEq compares a file line with a patch line.
type lineEq func(file, patch string) bool

func exactEq(a, b string) bool { return a == b }

// eolEq treats "\r\n" and "\n" as the same line end.
func eolEq(a, b string) bool {
	return strings.TrimSuffix(strings.TrimSuffix(a, "\n"), "\r") ==
		strings.TrimSuffix(strings.TrimSuffix(b, "\n"), "\r") &&
		strings.HasSuffix(a, "\n") == strings.HasSuffix(b, "\n")
}

// splitLines splits data after each "\n"; the last line may lack one.
func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// applyHunks applies the fragments in order to lines. Each hunk is looked
// for nearest-first around its header position (shifted by the offset of
// the hunk before it, as a file usually grows or shrinks as a whole), never
// before the end of the previous hunk. Fuzz f drops up to f context lines
// from each end of the hunk. It returns the new lines and one placement per
// hunk, or the miss for the first hunk that does not apply within maxFuzz.
func applyHunks(lines []string, frags []*gitdiff.TextFragment, maxFuzz int) ([]string, []placement, *miss) {
	out := make([]string, 0, len(lines)+16)
	places := make([]placement, 0, len(frags))
	cursor, lastOffset := 0, 0
	for i, frag := range frags {
		pl, ok := locate(lines, frag, cursor, lastOffset, maxFuzz, exactEq)
		if !ok {
			// A patch whose line endings were changed on the way (mail,
			// editors) still applies, and keeps the file's line endings.
			pl, ok = locate(lines, frag, cursor, lastOffset, maxFuzz, eolEq)
			pl.eol = ok
		}
		if !ok {
			return nil, nil, describeMiss(lines, frag, i, cursor, lastOffset, maxFuzz)
		}
		// Lines skipped by fuzz at the leading end stay as they are.
		out = append(out, lines[cursor:pl.start+min(pl.fuzz, int(frag.LeadingContext))]...)
		cursor = emit(&out, lines, frag, pl)
		lastOffset = pl.offset
		places = append(places, pl)
	}
	return append(out, lines[cursor:]...), places, nil
}

// oldSide returns the lines a hunk expects to find.
func oldSide(frag *gitdiff.TextFragment) []string {
	old := make([]string, 0, frag.OldLines)
	for _, l := range frag.Lines {
		if l.Old() {
			old = append(old, l.Line)
		}
	}
	return old
}

// expectedStart is where the hunk's old lines begin by its header, moved by
// offset. A header "-5,0" means "after line 5", so it inserts at index 5.
func expectedStart(frag *gitdiff.TextFragment, offset int) int {
	if frag.OldLines == 0 {
		return int(frag.OldPosition) + offset
	}
	return int(frag.OldPosition) - 1 + offset
}

// locate finds the nearest place where the hunk matches with the least
// fuzz. At fuzz 0 a hunk that starts at line 1 with less leading than
// trailing context must sit at the start of the file (diff cut its leading
// context short because the file began there); any fuzz lifts that anchor.
// There is no such anchor at the end: a header does not say where the file
// ended, and nearest-first search already prefers the right place.
func locate(lines []string, frag *gitdiff.TextFragment, minStart, offset, maxFuzz int, eq lineEq) (placement, bool) {
	old := oldSide(frag)
	lead, trail := int(frag.LeadingContext), int(frag.TrailingContext)
	exp := expectedStart(frag, offset)
	for f := 0; f <= maxFuzz; f++ {
		dl, dt := min(f, lead), min(f, trail)
		if f >= 2 && dl < f && dt < f {
			// Nothing more can be dropped than at f-1 (f = 1 still
			// differs from 0: it lifts the anchors).
			break
		}
		pat := old[dl : len(old)-dt]
		lo, hi := minStart+dl, len(lines)-len(pat)
		if f == 0 && lead < trail && frag.OldPosition == 1 {
			hi = min(hi, dl)
		}
		if s, ok := nearest(lines, pat, exp+dl, lo, hi, eq); ok {
			start := s - dl
			return placement{start: start, offset: start - expectedStart(frag, 0), fuzz: f}, true
		}
	}
	return placement{}, false
}

// nearest returns the index in [lo, hi] closest to want (later first on a
// tie) at which pat matches.
func nearest(lines, pat []string, want, lo, hi int, eq lineEq) (int, bool) {
	if lo > hi {
		return 0, false
	}
	if len(pat) == 0 {
		// Nothing to compare: only the header position can be right.
		if want >= lo && want <= hi {
			return want, true
		}
		return 0, false
	}
	// Start inside the range: a header can claim any line (even a
	// negative or absurd one), and the walk must stay bounded.
	want = min(max(want, lo), hi)
	for d := 0; want+d <= hi || want-d >= lo; d++ {
		if s := want + d; s >= lo && s <= hi && matchAt(lines, pat, s, eq) {
			return s, true
		}
		if s := want - d; d > 0 && s >= lo && s <= hi && matchAt(lines, pat, s, eq) {
			return s, true
		}
	}
	return 0, false
}

func matchAt(lines, pat []string, s int, eq lineEq) bool {
	for k, p := range pat {
		if !eq(lines[s+k], p) {
			return false
		}
	}
	return true
}

// emit appends the hunk's result at pl to out and returns the index of the
// first file line after the hunk. Context lines are copied from the file,
// not the patch, so fuzzed-over lines keep their real content.
func emit(out *[]string, lines []string, frag *gitdiff.TextFragment, pl placement) int {
	lead, trail := int(frag.LeadingContext), int(frag.TrailingContext)
	dl, dt := min(pl.fuzz, lead), min(pl.fuzz, trail)
	body := frag.Lines[dl : len(frag.Lines)-dt]
	k := pl.start + dl
	crlf := pl.eol && fileUsesCRLF(lines, k)
	for _, l := range body {
		switch l.Op {
		case gitdiff.OpContext:
			*out = append(*out, lines[k])
			k++
		case gitdiff.OpDelete:
			k++
		case gitdiff.OpAdd:
			*out = append(*out, fixEOL(l.Line, pl.eol, crlf))
		}
	}
	return k
}

// fileUsesCRLF guesses the line ending to give added lines from the file
// line at k (or the one before it).
func fileUsesCRLF(lines []string, k int) bool {
	for _, i := range []int{k, k - 1, 0} {
		if i >= 0 && i < len(lines) && strings.HasSuffix(lines[i], "\n") {
			return strings.HasSuffix(lines[i], "\r\n")
		}
	}
	return false
}

func fixEOL(line string, adapt, crlf bool) string {
	if !adapt || !strings.HasSuffix(line, "\n") {
		return line
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if crlf {
		return line + "\r\n"
	}
	return line + "\n"
}

// describeMiss gathers what an error message needs about a failed hunk:
// where the file looks most like it, and whether more fuzz would help.
func describeMiss(lines []string, frag *gitdiff.TextFragment, i, minStart, offset, maxFuzz int) *miss {
	m := &miss{hunk: i, expected: max(expectedStart(frag, offset), 0)}
	most := int(max(frag.LeadingContext, frag.TrailingContext))
	for f := maxFuzz + 1; f <= most; f++ {
		if pl, ok := locate(lines, frag, minStart, offset, f, exactEq); ok {
			m.fuzzed = &pl
			break
		}
	}
	m.near = m.expected
	old := oldSide(frag)
	best := 0
	for s := 0; s+len(old) <= len(lines); s++ {
		score := 0
		for k, o := range old {
			if lines[s+k] == o {
				score++
			}
		}
		if score > best || (score == best && score > 0 && abs(s-m.expected) < abs(m.near-m.expected)) {
			best, m.near = score, s
		}
	}
	return m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
