package patch

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// filePatch is the change to one file, as parsed by gitdiff, together with
// what gitdiff does not keep: whether the header was a git header, the raw
// names before any prefix was stripped, and the line numbers of the file
// header and of every hunk header in the patch file (for error messages).
type filePatch struct {
	file       *gitdiff.File
	git        bool
	headerLine int
	hunkLines  []int
	// hunkHeaders are the "@@" lines as written, when known.
	hunkHeaders []string
	// names are the file names the header gives, as written.
	names headerNames
}

// hunkHeader returns the i-th hunk's "@@" line as the patch writes it.
func (fp *filePatch) hunkHeader(i int) string {
	if fp.hunkHeaders != nil {
		return fp.hunkHeaders[i]
	}
	return fp.file.TextFragments[i].Header()
}

// parsedPatch is one patch file.
type parsedPatch struct {
	files    []*filePatch
	preamble string
}

// parsePatch parses a patch file's content. It returns an error naming the
// patch file and, where gitdiff knows it, the line.
func parsePatch(name string, data []byte) (*parsedPatch, error) {
	files, preamble, err := gitdiff.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse patch %s: %w", name, err)
	}
	headers := scanHeaders(data)
	pp := &parsedPatch{preamble: preamble}
	for i, f := range files {
		fp := &filePatch{file: f}
		// The scan mirrors gitdiff's own rules, so the counts agree; if they
		// ever do not, we lose only line numbers and raw names, never the
		// change itself.
		if len(headers) == len(files) {
			h := headers[i]
			fp.git, fp.headerLine, fp.names = h.git, h.line, h.names
			if len(h.hunkLines) == len(f.TextFragments) {
				fp.hunkLines, fp.hunkHeaders = h.hunkLines, h.hunkHeaders
			}
		} else {
			fp.git = f.OldMode != 0 || f.NewMode != 0 || f.OldOIDPrefix != ""
		}
		pp.files = append(pp.files, fp)
	}
	return pp, nil
}

// rawHeader is what scanHeaders finds for one file.
type rawHeader struct {
	git         bool
	line        int
	names       headerNames
	hunkLines   []int
	hunkHeaders []string
}

// scanHeaders finds file headers and hunk headers with their 1-based line
// numbers, following the same rules as gitdiff.Parse, and the file names
// each header gives, read as GNU patch reads them. An "Index:" line counts
// for the next header after it.
func scanHeaders(data []byte) []rawHeader {
	lines := strings.SplitAfter(string(data), "\n")
	var out []rawHeader
	index, indexLine := "", 0
	for i := 0; i < len(lines); {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "diff --git "):
			h := rawHeader{git: true, line: i + 1, names: headerNames{index: index}}
			h.names.add(index, indexLine, "Index: line", 0)
			h.names.gitOld, h.names.gitNew = gitLineNames(l[len("diff --git "):])
			h.names.add(h.names.gitOld, i+1, "diff --git line", 0)
			h.names.add(h.names.gitNew, i+1, "diff --git line", 0)
			i = scanGitHeader(lines, i+1, &h)
			i = scanHunks(lines, i, &h)
			out = append(out, h)
			index = ""
		case strings.HasPrefix(l, "--- ") && i+2 < len(lines) &&
			strings.HasPrefix(lines[i+1], "+++ ") &&
			len(lines[i+2]) >= len("@@ -1 +1 @@\n") && strings.HasPrefix(lines[i+2], "@@ -"):
			h := rawHeader{line: i + 1, names: headerNames{old: rawName(l[4:]), new: rawName(lines[i+1][4:]), index: index}}
			h.names.add(index, indexLine, "Index: line", 0)
			h.names.add(h.names.old, i+1, "--- line", 0)
			h.names.add(h.names.new, i+2, "+++ line", 0)
			i = scanHunks(lines, i+2, &h)
			out = append(out, h)
			index = ""
		case strings.HasPrefix(l, "Index:"):
			index = strings.TrimSpace(l[len("Index:"):])
			indexLine = i + 1
			i++
		default:
			i++
		}
	}
	return out
}

// scanGitHeader consumes the extended header lines after "diff --git" and
// returns the index of the first line after them.
func scanGitHeader(lines []string, i int, h *rawHeader) int {
	for ; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "@@ -"):
			return i
		case strings.HasPrefix(l, "--- "):
			h.names.old = rawName(l[4:])
			h.names.add(h.names.old, i+1, "--- line", 0)
		case strings.HasPrefix(l, "+++ "):
			h.names.new = rawName(l[4:])
			h.names.add(h.names.new, i+1, "+++ line", 0)
		default:
			// git writes the names of a rename or copy without the a/ b/
			// prefixes, so -pN drops one component fewer from them.
			for _, p := range [...]string{"rename from ", "rename to ", "copy from ", "copy to ", "rename old ", "rename new "} {
				if rest, ok := strings.CutPrefix(l, p); ok {
					h.names.add(gitHeaderName(rest), i+1, strings.TrimSpace(p)+" line", 1)
				}
			}
			known := false
			// The extended header lines git writes between "diff --git"
			// and the first hunk; any other line ends the header, as in
			// gitdiff.
			for _, p := range [...]string{
				"old mode ", "new mode ", "deleted file mode ", "new file mode ",
				"copy from ", "copy to ", "rename old ", "rename new ", "rename from ",
				"rename to ", "similarity index ", "dissimilarity index ", "index ",
			} {
				if strings.HasPrefix(l, p) {
					known = true
					break
				}
			}
			if !known {
				return i
			}
		}
	}
	return i
}

// scanHunks consumes the hunks starting at line i, recording each header's
// line number, and returns the index of the first line after them. Hunk
// bodies are measured by the counts in their headers, exactly as gitdiff
// does, so a body line that looks like a header is never taken for one.
func scanHunks(lines []string, i int, h *rawHeader) int {
	for i < len(lines) && strings.HasPrefix(lines[i], "@@ -") {
		oldN, newN, ok := hunkCounts(lines[i])
		if !ok {
			return i + 1
		}
		h.hunkLines = append(h.hunkLines, i+1)
		h.hunkHeaders = append(h.hunkHeaders, strings.TrimRight(lines[i], "\r\n"))
		i++
		for (oldN > 0 || newN > 0) && i < len(lines) && lines[i] != "" {
			switch lines[i][0] {
			case ' ', '\n':
				oldN--
				newN--
			case '-':
				oldN--
			case '+':
				newN--
			case '\\':
			default:
				return i
			}
			i++
		}
		if i < len(lines) && len(lines[i]) >= 12 && strings.HasPrefix(lines[i], "\\ ") {
			i++
		}
	}
	return i
}

// hunkCounts reads the old and new line counts from a hunk header.
func hunkCounts(l string) (oldN, newN int64, ok bool) {
	rest, _, found := strings.Cut(l[len("@@ -"):], " @@")
	if !found {
		return 0, 0, false
	}
	o, n, found := strings.Cut(rest, " +")
	if !found {
		return 0, 0, false
	}
	count := func(r string) (int64, bool) {
		_, c, has := strings.Cut(r, ",")
		if !has {
			return 1, true
		}
		v, err := strconv.ParseInt(c, 10, 64)
		return v, err == nil
	}
	oldN, ok1 := count(o)
	newN, ok2 := count(n)
	return oldN, newN, ok1 && ok2
}

// rawName reads a file name from a "---"/"+++" line as GNU patch's
// fetchname does: a C-quoted name, or everything up to the first white
// space, except that a space inside the name is kept when a tab later on
// the line separates the name from its timestamp ("a/my file.c\t2024-…").
// So "a/x.c 2024-01-01 10:00:00 +0100" names "a/x.c".
func rawName(s string) string {
	s = strings.TrimLeft(strings.TrimRight(s, "\r\n"), " \t")
	if strings.HasPrefix(s, `"`) {
		if name, _, ok := quotedName(s); ok {
			return name
		}
		return ""
	}
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			continue
		}
		j := i
		for s[j] != '\t' && j+1 < len(s) && isSpace(s[j+1]) {
			j++
		}
		if s[j] != '\t' && strings.IndexByte(s[j+1:], '\t') >= 0 {
			continue
		}
		return s[:i]
	}
	return s
}

// gitLineNames splits the rest of a "diff --git" line into its two names
// as GNU patch's parse_name does: each is C-quoted or runs to the next
// white space, and nothing but white space may follow the second. Both
// are empty when the line does not split that way.
func gitLineNames(s string) (string, string) {
	s = strings.TrimRight(s, "\r\n")
	first, rest, ok := gitLineName(s)
	if !ok || rest == "" || !isSpace(rest[0]) {
		return "", ""
	}
	second, rest, ok := gitLineName(rest)
	if !ok || strings.TrimLeft(rest, " \t\r\n\v\f") != "" {
		return "", ""
	}
	return first, second
}

// gitLineName reads one name of a "diff --git" line after any white space.
func gitLineName(s string) (name, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t\v\f")
	if strings.HasPrefix(s, `"`) {
		return quotedName(s)
	}
	i := strings.IndexAny(s, " \t\v\f\r\n")
	if i < 0 {
		i = len(s)
	}
	return s[:i], s[i:], i > 0
}

// quotedName reads a C-quoted name at the start of s.
func quotedName(s string) (name, rest string, ok bool) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			u, err := strconv.Unquote(s[:i+1])
			return u, s[i+1:], err == nil
		}
	}
	return "", "", false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// gitHeaderName reads the name on a git extended header line ("rename
// from NAME"): C-quoted, or the rest of the line.
func gitHeaderName(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if strings.HasPrefix(s, `"`) {
		name, _, ok := quotedName(s)
		if !ok {
			return ""
		}
		return name
	}
	return s
}

// scanContextDiff finds the first header of a context diff ("*** old",
// "--- new", then a line of 15 stars), which go-gitdiff does not read:
// it takes the whole diff for text around a patch, so a context diff would
// otherwise apply as nothing at all. The names are read as GNU patch
// reads them.
func scanContextDiff(data []byte) (headerNames, bool) {
	lines := strings.SplitAfter(string(data), "\n")
	for i := 0; i+2 < len(lines); i++ {
		if strings.HasPrefix(lines[i], "*** ") && strings.HasPrefix(lines[i+1], "--- ") &&
			strings.HasPrefix(lines[i+2], "***************") {
			var h headerNames
			h.add(rawName(lines[i][4:]), i+1, "*** line", 0)
			h.add(rawName(lines[i+1][4:]), i+2, "--- line", 0)
			if len(h.seen) == 0 {
				h.seen = []seenName{{line: i + 1}}
			}
			return h, true
		}
	}
	return headerNames{}, false
}
