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
	// rawOld and rawNew are the names on the "---" and "+++" lines, empty
	// when the patch has none (git mode-only or binary changes).
	rawOld, rawNew string
	// gitNames is the rest of the "diff --git" line.
	gitNames string
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
			fp.git, fp.headerLine, fp.rawOld, fp.rawNew, fp.gitNames = h.git, h.line, h.rawOld, h.rawNew, h.gitNames
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
	git            bool
	line           int
	rawOld, rawNew string
	gitNames       string
	hunkLines      []int
	hunkHeaders    []string
}

// scanHeaders finds file headers and hunk headers with their 1-based line
// numbers, following the same rules as gitdiff.Parse.
func scanHeaders(data []byte) []rawHeader {
	lines := strings.SplitAfter(string(data), "\n")
	var out []rawHeader
	for i := 0; i < len(lines); {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "diff --git "):
			h := rawHeader{git: true, line: i + 1, gitNames: strings.TrimRight(l[len("diff --git "):], "\r\n")}
			i = scanGitHeader(lines, i+1, &h)
			i = scanHunks(lines, i, &h)
			out = append(out, h)
		case strings.HasPrefix(l, "--- ") && i+2 < len(lines) &&
			strings.HasPrefix(lines[i+1], "+++ ") &&
			len(lines[i+2]) >= len("@@ -1 +1 @@\n") && strings.HasPrefix(lines[i+2], "@@ -"):
			h := rawHeader{line: i + 1, rawOld: rawName(l[4:]), rawNew: rawName(lines[i+1][4:])}
			i = scanHunks(lines, i+2, &h)
			out = append(out, h)
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
			h.rawOld = rawName(l[4:])
		case strings.HasPrefix(l, "+++ "):
			h.rawNew = rawName(l[4:])
		default:
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

// rawName reads a file name from a "---"/"+++" line: a C-quoted name, or
// everything up to a tab (which starts a timestamp) or the line end.
func rawName(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if strings.HasPrefix(s, `"`) {
		for i := 1; i < len(s); i++ {
			if s[i] == '"' && s[i-1] != '\\' {
				if u, err := strconv.Unquote(s[:i+1]); err == nil {
					return u
				}
				break
			}
		}
	}
	if i := strings.IndexByte(s, '\t'); i >= 0 {
		s = s[:i]
	}
	return s
}
