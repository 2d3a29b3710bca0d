package verify

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// writeTree writes files (path → content; a value starting with "->" is a
// symlink to the rest) under dir, each with mode 0644 unless it ends in
// ".sh" (0755).
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(data, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompareBuilds compares two builds of the same artifact made by two
// components: zips, plain files and directories, the same and not; each
// difference is listed by name with what differs, against the other
// component by name.
func TestCompareBuilds(t *testing.T) {
	tree := map[string]string{"bin/go": "\x7fELF go", "src/a.go": "package a\n", "make.sh": "#!/bin/sh\n", "lib/link": "->../bin/go"}
	changed := func(edit func(m map[string]string)) map[string]string {
		m := map[string]string{}
		for k, v := range tree {
			m[k] = v
		}
		edit(m)
		return m
	}
	for _, tc := range []struct {
		name string
		// make writes the two artifacts into a and b and returns their
		// paths.
		make      func(t *testing.T, a, b string) (string, string)
		identical bool
		want      []string // in the error, in order
		notWant   string
	}{
		{"same zip", func(t *testing.T, a, b string) (string, string) {
			writeZip(t, filepath.Join(a, "x.zip"), official)
			writeZip(t, filepath.Join(b, "x.zip"), official)
			return filepath.Join(a, "x.zip"), filepath.Join(b, "x.zip")
		}, true, nil, ""},
		{"zip, one member differs", func(t *testing.T, a, b string) (string, string) {
			writeZip(t, filepath.Join(a, "x.zip"), official)
			writeZip(t, filepath.Join(b, "x.zip"), with(func(ms []member) []member { ms[2].data = "package b\n"; return ms }))
			return filepath.Join(a, "x.zip"), filepath.Join(b, "x.zip")
		}, false, []string{"built independently by component go-cross", "1 file(s) differ", mod + "@" + ver + "/src/a.go: sha256 "}, "bin/tool"},
		{"same plain file", func(t *testing.T, a, b string) (string, string) {
			writeTree(t, a, map[string]string{"go": "\x7fELF"})
			writeTree(t, b, map[string]string{"go": "\x7fELF"})
			return filepath.Join(a, "go"), filepath.Join(b, "go")
		}, true, nil, ""},
		{"plain file differs", func(t *testing.T, a, b string) (string, string) {
			writeTree(t, a, map[string]string{"go": "\x7fELF built at 12:00"})
			writeTree(t, b, map[string]string{"go": "\x7fELF built at 12:01"})
			return filepath.Join(a, "go"), filepath.Join(b, "go")
		}, false, []string{"1 file(s) differ", "/go: sha256 "}, "size"},
		{"same tree", func(t *testing.T, a, b string) (string, string) {
			writeTree(t, a, tree)
			writeTree(t, b, tree)
			return a, b
		}, true, nil, ""},
		{"tree: content, mode, link, extra", func(t *testing.T, a, b string) (string, string) {
			writeTree(t, a, tree)
			writeTree(t, b, changed(func(m map[string]string) {
				m["src/a.go"] = "package b\n"
				m["lib/link"] = "->../bin/gofmt"
				m["only-there"] = "x"
			}))
			os.Chmod(filepath.Join(b, "make.sh"), 0o700)
			return a, b
		}, false, []string{"(tree hash ", "4 file(s) differ", "lib/link: symlink to ../bin/go, go-cross to ../bin/gofmt", "make.sh: mode -rwxr-xr-x, go-cross -rwx------", "src/a.go: sha256 ", "only-there: only in go-cross's build"}, "  bin/go:"},
		{"file against a tree", func(t *testing.T, a, b string) (string, string) {
			writeTree(t, a, map[string]string{"go": "x"})
			writeTree(t, b, tree)
			return filepath.Join(a, "go"), b
		}, false, []string{"go-cross: this build is a file and go-cross's a directory"}, "sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := t.TempDir(), t.TempDir()
			file, other := tc.make(t, a, b)
			v := &plan.Verification{File: file, Component: "go-cross", Other: other, Reference: "component:go-cross " + other}
			var log bytes.Buffer
			res, err := Verifier{}.Verify(context.Background(), v, &log)
			if tc.identical {
				if err != nil || !res.Identical || res.Against != AgainstIndependent || !strings.Contains(log.String(), "go-cross's independent build: "+other) {
					t.Fatalf("want bit-identical against go-cross: %+v, %v\n%s", res, err, &log)
				}
				return
			}
			var mm *MismatchError
			if !errors.As(err, &mm) || res == nil || res.Identical || res.Against != AgainstIndependent || res.Component != "go-cross" {
				t.Fatalf("want a mismatch against go-cross, got %+v, %v", res, err)
			}
			msg, at := err.Error(), 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("the error lacks %q (in order):\n%s", w, msg)
				}
				at += i + len(w)
			}
			if tc.notWant != "" && strings.Contains(msg, tc.notWant) {
				t.Errorf("the error names %q, which is the same in both:\n%s", tc.notWant, msg)
			}
			t.Logf("%s", msg)
		})
	}
}

// TestCompareBuildsMissing says which side is missing and where it was
// set, instead of a verdict.
func TestCompareBuildsMissing(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"go": "x"})
	for _, tc := range []struct{ file, other, want string }{
		{filepath.Join(dir, "nope"), filepath.Join(dir, "go"), "the artifact to verify"},
		{filepath.Join(dir, "go"), filepath.Join(dir, "nope"), "component go-cross's build to compare with"},
	} {
		v := &plan.Verification{File: tc.file, Component: "go-cross", Other: tc.other}
		_, err := CompareBuilds(v, &bytes.Buffer{})
		var mm *MismatchError
		if err == nil || errors.As(err, &mm) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nope") {
			t.Errorf("%s vs %s: want an error naming %q and the path, got %v", tc.file, tc.other, tc.want, err)
		}
	}
}
