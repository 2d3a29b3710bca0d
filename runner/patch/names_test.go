package patch

import (
	"os"
	"testing"
)

// TestRawName covers how a "---"/"+++" line's name ends (GNU fetchname).
func TestRawName(t *testing.T) {
	cases := []struct{ line, want string }{
		{"a/x.c\n", "a/x.c"},
		{"a/x.c\t2024-01-01 10:00:00.000000000 +0100\n", "a/x.c"},
		{"a/x.c 2024-01-01 10:00:00.000000000 +0100\n", "a/x.c"}, // no tab: the name ends at the space
		{"a/my file.c\t2024-01-01\n", "a/my file.c"},             // a later tab keeps inner spaces
		{"a/my file.c\n", "a/my"},
		{"a/x.c\r\n", "a/x.c"},
		{"  a/x.c\n", "a/x.c"},
		{`"a/t\303\251st.c"` + "\t2024\n", "a/t\u00e9st.c"},
		{`"a/bad` + "\n", ""},
		{"/dev/null\t1970-01-01 00:00:00 +0000\n", "/dev/null"},
	}
	for _, c := range cases {
		if got := rawName(c.line); got != c.want {
			t.Errorf("rawName(%q) = %q, want %q", c.line, got, c.want)
		}
	}
}

// TestGitLineNames covers when a "diff --git" line is well formed.
func TestGitLineNames(t *testing.T) {
	cases := []struct{ rest, old, new string }{
		{"a/x.c b/x.c\n", "a/x.c", "b/x.c"},
		{"a/x.c b/y.c\r\n", "a/x.c", "b/y.c"},
		{`"a/sp ace" "b/sp ace"` + "\n", "a/sp ace", "b/sp ace"},
		{"a/sp ace b/sp ace\n", "", ""}, // three words: GNU patch ignores the line
		{"a/x.c\n", "", ""},
		{"a/x.c b/x.c   \n", "a/x.c", "b/x.c"},
	}
	for _, c := range cases {
		o, n := gitLineNames(c.rest)
		if o != c.old || n != c.new {
			t.Errorf("gitLineNames(%q) = %q, %q, want %q, %q", c.rest, o, n, c.old, c.new)
		}
	}
}

// TestCandidates covers which header names fill the old, new and index
// slots under -pN, in GNU patch's order.
func TestCandidates(t *testing.T) {
	cases := []struct {
		name  string
		h     headerNames
		strip int
		want  [slots]string
	}{
		{"plain", headerNames{old: "a/x.c", new: "b/x.c"}, 1, [slots]string{"x.c", "x.c", ""}},
		{"plain p0", headerNames{old: "a/x.c", new: "b/x.c"}, 0, [slots]string{"a/x.c", "b/x.c", ""}},
		{"runs of slashes are one", headerNames{old: "a//d/x.c", new: "b/d//x.c"}, 2, [slots]string{"x.c", "x.c", ""}},
		{"absolute name loses its root with p1", headerNames{old: "/u/x.c", new: "/u/x.c"}, 1, [slots]string{"u/x.c", "u/x.c", ""}},
		{"too few components: ignored", headerNames{old: "x.c.orig", new: "b/x.c"}, 1, [slots]string{"", "x.c", ""}},
		{"dev null ignored", headerNames{old: devNull, new: "b/x.c"}, 1, [slots]string{"", "x.c", ""}},
		{"git line alone", headerNames{gitOld: "a/x.c", gitNew: "b/x.c"}, 1, [slots]string{"x.c", "x.c", ""}},
		{"git line, dashes override", headerNames{gitOld: "a/x.c", gitNew: "b/x.c", old: "a/x", new: "b/x.c"}, 1, [slots]string{"x", "x.c", ""}},
		{"git line kept where --- is dev null", headerNames{gitOld: "a/x.c", gitNew: "b/x.c", old: devNull, new: "b/x.c"}, 1, [slots]string{"x.c", "x.c", ""}},
		{"git line needs both names strippable", headerNames{gitOld: "x.c", gitNew: "b/x.c"}, 1, [slots]string{"", "", ""}},
		{"git line p2", headerNames{gitOld: "a/d/x.c", gitNew: "b/d/y.c"}, 2, [slots]string{"x.c", "y.c", ""}},
		{"index alone", headerNames{index: "d/x.c"}, 0, [slots]string{"", "", "d/x.c"}},
		{"index stripped", headerNames{index: "d/x.c"}, 1, [slots]string{"", "", "x.c"}},
		{"index ignored next to a name", headerNames{old: "a/x.c", new: devNull, index: "y.c"}, 1, [slots]string{"x.c", "", ""}},
		{"index used when names strip away", headerNames{old: "x.c", new: "x.c", index: "d/x.c"}, 1, [slots]string{"", "", "x.c"}},
	}
	for _, c := range cases {
		if got := c.h.candidates(c.strip); got != c.want {
			t.Errorf("%s: candidates(%d) = %q, want %q", c.name, c.strip, got, c.want)
		}
	}
}

// TestChooseName covers GNU patch's choice among the candidates, on a real
// tree.
func TestChooseName(t *testing.T) {
	files := map[string]string{
		"x.c": "", "x.c.orig": "", "src/x.c": "", "src/y.c": "", "src/lib/z.c": "", "long/x.c": "",
	}
	dir := t.TempDir()
	writeTree(t, dir, files)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ov := newOverlay(root)
	cases := []struct {
		name    string
		c       [slots]string
		creates bool
		want    int
	}{
		{"the only name", [slots]string{"x.c", "x.c", ""}, false, slotOld},
		{"the name that exists", [slots]string{"x", "x.c", ""}, false, slotNew},
		{"the name that exists, old side", [slots]string{"src/y.c", "src/y.cc", ""}, false, slotOld},
		{"fewer components", [slots]string{"src/x.c", "x.c", ""}, false, slotNew},
		{"shorter base name", [slots]string{"x.c.orig", "x.c", ""}, false, slotNew},
		{"shorter name", [slots]string{"long/x.c", "src/x.c", ""}, false, slotNew},
		{"first of equals", [slots]string{"src/x.c", "src/y.c", ""}, false, slotOld},
		{"index", [slots]string{"", "", "src/lib/z.c"}, false, slotIndex},
		{"none exists", [slots]string{"nope.c", "nada.c", ""}, false, -1},
		{"none exists, creating: fewest new dirs", [slots]string{"new/dir/a.c", "src/lib/b.c", ""}, true, slotNew},
		{"none exists, creating: then best name", [slots]string{"src/nn.c", "src/n.c", ""}, true, slotNew},
		{"none exists, creating: new only", [slots]string{"", "src/new.c", ""}, true, slotNew},
		{"no names", [slots]string{}, true, -1},
	}
	for _, c := range cases {
		if got := chooseName(c.c, ov, c.creates); got != c.want {
			t.Errorf("%s: chooseName(%q) = %d, want %d", c.name, c.c, got, c.want)
		}
	}
}

// TestGNUNameChoiceApplies applies whole patches whose names need the
// rules above, among them the header seen in a Debian package: a
// "diff --git a/X b/X" whose "---" line names X without its suffix.
func TestGNUNameChoiceApplies(t *testing.T) {
	body := "@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n"
	cases := []applyCase{
		{name: "git header, --- names another path", files: map[string]string{"src/tool.py": "one\ntwo\n"}, strip: 1,
			patch: "diff --git a/src/tool.py b/src/tool.py\nindex 1111111..2222222 100644\n" +
				"--- a/src/tool 2019-03-01 10:00:00.000000000 +0100\n+++ b/src/tool.py 2019-03-01 10:00:00.000000000 +0100\n" + body,
			want: map[string]string{"src/tool.py": "one\nTWO\n"}},
		{name: "plain, only +++ exists", files: map[string]string{"conf.h": "one\ntwo\n"}, strip: 0,
			patch: "--- conf.h.in\n+++ conf.h\n" + body, want: map[string]string{"conf.h": "one\nTWO\n"}},
		{name: "plain, both exist, .orig loses", files: map[string]string{"m.c": "one\ntwo\n", "m.c.orig": "one\ntwo\n"}, strip: 0,
			patch: "--- m.c.orig\n+++ m.c\n" + body, want: map[string]string{"m.c": "one\nTWO\n", "m.c.orig": "one\ntwo\n"}},
		{name: "Index line when names strip away", files: map[string]string{"lib/u.c": "one\ntwo\n"}, strip: 1,
			patch: "Index: pkg/lib/u.c\n===================================================================\n--- u.c\n+++ u.c\n" + body,
			want:  map[string]string{"lib/u.c": "one\nTWO\n"}},
		{name: "timestamp after a space", files: map[string]string{"a.txt": "one\ntwo\n"}, strip: 1,
			patch: "--- a/a.txt 2020-01-01 00:00:00\n+++ b/a.txt 2020-01-01 00:00:00\n" + body, want: map[string]string{"a.txt": "one\nTWO\n"}},
		{name: "created where fewest dirs are new", files: map[string]string{"src/keep": ""}, strip: 1,
			patch: "--- a/orig/src/n.c\n+++ b/src/n.c\n@@ -0,0 +1 @@\n+n\n", want: map[string]string{"src/keep": "", "src/n.c": "n\n"}},
		{name: "neither name exists", files: map[string]string{"x": ""}, strip: 1,
			patch: "--- a/p.c\n+++ b/q.c\n" + body, wantErr: []string{`the patch names "p.c" or "q.c"`}},
		{name: "names strip away", files: map[string]string{"x": ""}, strip: 2,
			patch: "--- a/p.c\n+++ b/p.c\n" + body, wantErr: []string{"no file name is left after -p2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runApplyCase(t, tc) })
	}
}
