package patch

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// line8 changes line 8 of numbered(20) with three lines of context.
const line8 = `--- a/a.txt
+++ b/a.txt
@@ -5,7 +5,7 @@
 line 5
 line 6
 line 7
-line 8
+LINE 8
 line 9
 line 10
 line 11
`

var twenty = numbered(20, nil)

type applyCase struct {
	name  string
	files map[string]string
	patch string
	strip int
	fuzz  int
	// want is the whole tree afterwards; modes the permissions to check.
	want  map[string]string
	modes map[string]fs.FileMode
	// hunks are the expected (line, offset, fuzz) of every hunk, in order.
	hunks [][3]int
	// wantErr are substrings of the error; errType its type.
	wantErr []string
	errType any
}

func TestApply(t *testing.T) {
	extra := "extra 1\nextra 2\nextra 3\n"
	cases := []applyCase{
		{name: "exact", files: map[string]string{"a.txt": twenty}, patch: line8, strip: 1,
			want: map[string]string{"a.txt": numbered(20, map[int]string{8: "LINE 8\n"})}, hunks: [][3]int{{5, 0, 0}}},
		{name: "offset forward", files: map[string]string{"a.txt": extra + twenty}, patch: line8, strip: 1,
			want: map[string]string{"a.txt": extra + numbered(20, map[int]string{8: "LINE 8\n"})}, hunks: [][3]int{{8, 3, 0}}},
		{name: "offset backward", files: map[string]string{"a.txt": numbered(20, map[int]string{1: "", 2: ""})}, patch: line8, strip: 1,
			want:  map[string]string{"a.txt": numbered(20, map[int]string{1: "", 2: "", 8: "LINE 8\n"})},
			hunks: [][3]int{{3, -2, 0}}},
		{name: "fuzz 1 allowed", files: map[string]string{"a.txt": numbered(20, map[int]string{5: "five\n"})}, patch: line8, strip: 1, fuzz: 1,
			want:  map[string]string{"a.txt": numbered(20, map[int]string{5: "five\n", 8: "LINE 8\n"})},
			hunks: [][3]int{{5, 0, 1}}},
		{name: "fuzz 1 refused", files: map[string]string{"a.txt": numbered(20, map[int]string{5: "five\n"})}, patch: line8, strip: 1,
			errType: &HunkError{}, wantErr: []string{"only with fuzz 1, and fuzz 0 is allowed", "a.txt"}},
		{name: "fuzz 2 allowed", files: map[string]string{"a.txt": numbered(20, map[int]string{5: "five\n", 11: "eleven\n", 10: "ten\n"})}, patch: line8, strip: 1, fuzz: 2,
			want:  map[string]string{"a.txt": numbered(20, map[int]string{5: "five\n", 10: "ten\n", 11: "eleven\n", 8: "LINE 8\n"})},
			hunks: [][3]int{{5, 0, 2}}},
		{name: "fuzz 2 refused", files: map[string]string{"a.txt": numbered(20, map[int]string{5: "five\n", 6: "six\n"})}, patch: line8, strip: 1, fuzz: 1,
			errType: &HunkError{}, wantErr: []string{"only with fuzz 2, and fuzz 1 is allowed"}},
		{name: "two hunks carry the offset", files: map[string]string{"a.txt": extra + twenty}, strip: 1, patch: `--- a/a.txt
+++ b/a.txt
@@ -2,3 +2,3 @@
 line 2
-line 3
+LINE 3
 line 4
@@ -15,3 +15,4 @@
 line 15
 line 16
+inserted
 line 17
`, want: map[string]string{"a.txt": extra + numbered(20, map[int]string{3: "LINE 3\n", 16: "line 16\ninserted\n"})},
			hunks: [][3]int{{5, 3, 0}, {18, 3, 0}}},
		{name: "create git with mode", files: map[string]string{}, strip: 1, patch: `diff --git a/bin/new.sh b/bin/new.sh
new file mode 100755
index 0000000..1111111
--- /dev/null
+++ b/bin/new.sh
@@ -0,0 +1,2 @@
+#!/bin/sh
+echo hi
`, want: map[string]string{"bin/new.sh": "#!/bin/sh\necho hi\n"}, modes: map[string]fs.FileMode{"bin/new.sh": 0o755}},
		{name: "create plain", files: map[string]string{"keep": ""}, strip: 1, patch: `--- /dev/null
+++ b/dir/sub/new.txt
@@ -0,0 +1 @@
+hello
`, want: map[string]string{"keep": "", "dir/sub/new.txt": "hello\n"}, modes: map[string]fs.FileMode{"dir/sub/new.txt": 0o644}},
		{name: "create empty file git", files: map[string]string{}, strip: 1, patch: "diff --git a/empty b/empty\nnew file mode 100644\nindex 0000000..e69de29\n",
			want: map[string]string{"empty": ""}},
		{name: "delete git", files: map[string]string{"d/a.txt": numbered(3, nil), "keep": ""}, strip: 1, patch: `diff --git a/d/a.txt b/d/a.txt
deleted file mode 100644
index 1111111..0000000
--- a/d/a.txt
+++ /dev/null
@@ -1,3 +0,0 @@
-line 1
-line 2
-line 3
`, want: map[string]string{"keep": ""}},
		{name: "delete plain", files: map[string]string{"b.txt": "x\ny\n", "keep": ""}, strip: 1, patch: "--- a/b.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n",
			want: map[string]string{"keep": ""}},
		{name: "delete with wrong content", files: map[string]string{"b.txt": "x\nz\n"}, strip: 1, patch: "--- a/b.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n",
			errType: &HunkError{}, wantErr: []string{"b.txt"}},
		{name: "rename with change", files: map[string]string{"old/name.txt": numbered(3, nil)}, strip: 1, patch: `diff --git a/old/name.txt b/new/name.txt
similarity index 80%
rename from old/name.txt
rename to new/name.txt
index 1111111..2222222 100644
--- a/old/name.txt
+++ b/new/name.txt
@@ -1,3 +1,3 @@
 line 1
-line 2
+LINE 2
 line 3
`, want: map[string]string{"new/name.txt": "line 1\nLINE 2\nline 3\n"}},
		{name: "mode change", files: map[string]string{"run.sh": "echo\n"}, strip: 1, patch: "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n",
			want: map[string]string{"run.sh": "echo\n"}, modes: map[string]fs.FileMode{"run.sh": 0o755}},
		{name: "symlink created", files: map[string]string{}, strip: 1, patch: "diff --git a/link b/link\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+target.txt\n\\ No newline at end of file\n",
			want: map[string]string{"link": "-> target.txt"}},
		{name: "crlf file and patch", files: map[string]string{"w.txt": "a\r\nb\r\nc\r\n"}, strip: 1,
			patch: "--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n",
			want:  map[string]string{"w.txt": "a\r\nB\r\nc\r\n"}, hunks: [][3]int{{1, 0, 0}}},
		{name: "crlf file lf patch", files: map[string]string{"w.txt": "a\r\nb\r\nc\r\n"}, strip: 1,
			patch: "--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n",
			want:  map[string]string{"w.txt": "a\r\nB\r\nc\r\n"}},
		{name: "no newline at end", files: map[string]string{"n.txt": "one\ntwo"}, strip: 1, patch: `--- a/n.txt
+++ b/n.txt
@@ -1,2 +1,3 @@
 one
-two
\ No newline at end of file
+two
+three
\ No newline at end of file
`, want: map[string]string{"n.txt": "one\ntwo\nthree"}},
		{name: "newline added at end", files: map[string]string{"n.txt": "one\ntwo"}, strip: 1,
			patch: "--- a/n.txt\n+++ b/n.txt\n@@ -1,2 +1,2 @@\n one\n-two\n\\ No newline at end of file\n+two\n",
			want:  map[string]string{"n.txt": "one\ntwo\n"}},
		{name: "conflict", files: map[string]string{"a.txt": numbered(20, map[int]string{8: "changed 8\n"})}, strip: 1,
			patch: "Subject: fix\n\nwhy\n" + line8, errType: &HunkError{},
			wantErr: []string{"fix.patch:6: hunk #1 @@ -5,7 +5,7 @@ does not apply to a.txt at line 5", "its context does not match",
				"line 8", "!     8 changed 8", "|     7 line 7"}},
		{name: "already applied", files: map[string]string{"a.txt": numbered(20, map[int]string{8: "LINE 8\n"})}, patch: line8, strip: 1,
			errType: &AlreadyAppliedError{}, wantErr: []string{"fix.patch: already applied"}},
		{name: "already created", files: map[string]string{"dir/sub/new.txt": "hello\n"}, strip: 1,
			patch: "--- /dev/null\n+++ b/dir/sub/new.txt\n@@ -0,0 +1 @@\n+hello\n", errType: &AlreadyAppliedError{}},
		{name: "missing file", files: map[string]string{}, patch: line8, strip: 1,
			errType: &FileError{}, wantErr: []string{"fix.patch:1: a.txt: file to patch not found (with -p1"}},
		{name: "strip 0 keeps the prefix", files: map[string]string{"a/a.txt": twenty}, patch: line8, strip: 0,
			want: map[string]string{"a/a.txt": numbered(20, map[int]string{8: "LINE 8\n"})}},
		{name: "strip 2", files: map[string]string{"a.txt": twenty}, patch: strings.ReplaceAll(line8, "a.txt", "x/a.txt"), strip: 2,
			want: map[string]string{"a.txt": numbered(20, map[int]string{8: "LINE 8\n"})}},
		{name: "git no-prefix with p0", files: map[string]string{"src/a.txt": twenty}, strip: 0,
			patch: "diff --git src/a.txt src/a.txt\n" + strings.ReplaceAll(strings.ReplaceAll(line8, "a/a.txt", "src/a.txt"), "b/a.txt", "src/a.txt"),
			want:  map[string]string{"src/a.txt": numbered(20, map[int]string{8: "LINE 8\n"})}},
		{name: "orig name loses", files: map[string]string{"a.txt": twenty}, strip: 0,
			patch: strings.Replace(strings.Replace(line8, "a/a.txt", "a.txt.orig", 1), "b/a.txt", "a.txt", 1),
			want:  map[string]string{"a.txt": numbered(20, map[int]string{8: "LINE 8\n"})}},
		{name: "dotdot rejected", files: map[string]string{}, strip: 1, patch: "--- /dev/null\n+++ b/../evil.txt\n@@ -0,0 +1 @@\n+x\n",
			errType: &EscapeError{}, wantErr: []string{"outside the source tree"}},
		{name: "absolute rejected", files: map[string]string{}, strip: 0, patch: "--- /dev/null\n+++ /tmp/evil.txt\n@@ -0,0 +1 @@\n+x\n",
			errType: &EscapeError{}, wantErr: []string{"outside the source tree"}},
		{name: "failed patch changes nothing", files: map[string]string{"a.txt": twenty, "b.txt": "x\n"}, strip: 1,
			patch: line8 + "--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-nope\n+y\n", errType: &HunkError{},
			wantErr: []string{"fix.patch:14: hunk #1 @@ -1 +1 @@ does not apply to b.txt"},
			want:    map[string]string{"a.txt": twenty, "b.txt": "x\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runApplyCase(t, tc) })
	}
}

func runApplyCase(t *testing.T, tc applyCase) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, tree, tc.files)
	pfile := filepath.Join(dir, "fix.patch")
	if err := os.WriteFile(pfile, []byte(tc.patch), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rec, err := Apply(context.Background(), tree, plan.Patch{File: pfile, Strip: tc.strip, Fuzz: tc.fuzz}, &log)
	checkErr(t, err, tc.errType, tc.wantErr)
	if tc.want != nil {
		got, modes := readTree(t, tree)
		if !equalMaps(got, tc.want) {
			t.Errorf("tree = %q\nwant %q\nlog:\n%s", got, tc.want, log.String())
		}
		for name, m := range tc.modes {
			if modes[name] != m {
				t.Errorf("mode of %s = %v, want %v", name, modes[name], m)
			}
		}
	}
	if err == nil && tc.hunks != nil {
		var got [][3]int
		for _, f := range rec.Patches[0].Files {
			for _, h := range f.Hunks {
				got = append(got, [3]int{h.Line, h.Offset, h.Fuzz})
			}
		}
		if !equalHunks(got, tc.hunks) {
			t.Errorf("hunks (line, offset, fuzz) = %v, want %v\nlog:\n%s", got, tc.hunks, log.String())
		}
	}
	if err == nil {
		if _, jerr := json.Marshal(rec); jerr != nil {
			t.Errorf("record does not marshal: %v", jerr)
		}
	}
}

func checkErr(t *testing.T, err error, errType any, want []string) {
	t.Helper()
	if errType == nil && want == nil {
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Apply succeeded, want an error")
	}
	switch errType.(type) {
	case *HunkError:
		var e *HunkError
		if !errors.As(err, &e) {
			t.Errorf("error %T, want *HunkError: %v", err, err)
		}
	case *FileError:
		var e *FileError
		if !errors.As(err, &e) {
			t.Errorf("error %T, want *FileError: %v", err, err)
		}
	case *EscapeError:
		var e *EscapeError
		if !errors.As(err, &e) {
			t.Errorf("error %T, want *EscapeError: %v", err, err)
		}
	case *AlreadyAppliedError:
		var e *AlreadyAppliedError
		if !errors.As(err, &e) {
			t.Errorf("error %T, want *AlreadyAppliedError: %v", err, err)
		}
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func equalHunks(a, b [][3]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// binaryPatch makes a git binary patch (a literal fragment) that changes
// name from old to new, the way git diff --binary writes one.
func binaryPatch(t *testing.T, name string, old, new []byte) string {
	t.Helper()
	lit := func(data []byte) *gitdiff.BinaryFragment {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(data)
		w.Close()
		return &gitdiff.BinaryFragment{Method: gitdiff.BinaryPatchLiteral, Size: int64(len(data)), RawData: z.Bytes()}
	}
	f := &gitdiff.File{OldName: name, NewName: name, IsBinary: true, OldOIDPrefix: blobID(old), NewOIDPrefix: blobID(new),
		BinaryFragment: lit(new), ReverseBinaryFragment: lit(old)}
	if old == nil {
		f.OldName, f.IsNew, f.NewMode, f.ReverseBinaryFragment = "", true, 0o100644, nil
		f.OldOIDPrefix = strings.Repeat("0", 40)
	}
	return f.String()
}

func TestApplyBinary(t *testing.T) {
	blob := []byte{0, 1, 2, 3, 0xff, 0xfe, 0, 'x', '\n', 0}
	changed := append(bytes.Repeat([]byte{0, 9}, 100), blob...)
	cases := []applyCase{
		{name: "new binary", files: map[string]string{}, patch: binaryPatch(t, "img/a.bin", nil, blob), strip: 1,
			want: map[string]string{"img/a.bin": string(blob)}},
		{name: "changed binary", files: map[string]string{"a.bin": string(blob)}, patch: binaryPatch(t, "a.bin", blob, changed), strip: 1,
			want: map[string]string{"a.bin": string(changed)}},
		{name: "binary already applied", files: map[string]string{"a.bin": string(changed)}, patch: binaryPatch(t, "a.bin", blob, changed), strip: 1,
			errType: &AlreadyAppliedError{}},
		{name: "binary without data", files: map[string]string{"a.bin": "x"}, strip: 1,
			patch:   "diff --git a/a.bin b/a.bin\nindex " + blobID([]byte("x"))[:7] + "..2222222 100644\nBinary files a/a.bin and b/a.bin differ\n",
			errType: &FileError{}, wantErr: []string{"git diff --binary"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runApplyCase(t, tc) })
	}
}
