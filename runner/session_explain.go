package runner

import (
	"strings"

	"github.com/porterkit/bootstrap/runner/executor"
)

// Lines show a changed input the way `bootstrap explain` prints it: a
// changed script as a line diff ("  ", "- ", "+ " prefixes), a root file
// system's package list as the packages that differ (it has hundreds of
// lines), anything else as "was:" and "now:" lines.
func (c Change) Lines() []string {
	switch {
	case c.Key == "script" && !c.Added && !c.Removed:
		return lineDiff(c.Old, c.New)
	case c.Key == executor.InputRootfsPackages:
		if why, missing := executor.TreeMissing(c.New); missing {
			return []string{"not in this cache: " + why}
		}
		return PackageChanges(c.Old, c.New)
	}
	var out []string
	indent := func(s string) string { return strings.ReplaceAll(s, "\n", "\n       ") }
	if !c.Added {
		out = append(out, "was: "+indent(c.Old))
	}
	if !c.Removed {
		out = append(out, "now: "+indent(c.New))
	}
	return out
}

// lineDiff is a minimal line diff (longest common subsequence), enough to
// show which lines of a script changed.
func lineDiff(a, b string) []string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out = append(out, "  "+x[i])
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+x[i])
			i++
		default:
			out = append(out, "+ "+y[j])
			j++
		}
	}
	return out
}
