package patchwork

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/patch"
)

func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func write(t *testing.T, dir, name, content string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// sourceTree makes the "unpacked upstream source" of the test; its
// .gitignore must not keep ignored files out of the base commit.
func sourceTree(t *testing.T, dir string) {
	write(t, dir, "a.txt", numbered(30), 0o644)
	write(t, dir, "build/gen.txt", "generated but shipped\n", 0o644)
	write(t, dir, ".gitignore", "build/\n", 0o644)
	write(t, dir, "script.sh", "#!/bin/sh\necho old\n", 0o755)
	write(t, dir, "img.bin", "\x00\x01\x02binary\x00", 0o644)
}

const existingPatch = `From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001
From: Alice Porter <alice@example.org>
Date: Tue, 3 Jan 2023 10:00:00 +0000
Subject: [PATCH] Change line 5

Because the board needs it.
---
 a.txt | 2 +-

diff --git a/a.txt b/a.txt
--- a/a.txt
+++ b/a.txt
@@ -2,7 +2,7 @@
 line 2
 line 3
 line 4
-line 5
+LINE 5
 line 6
 line 7
 line 8
`

// TestRoundTrip edits a tree with one existing patch, commits changes
// with go-git, saves them, and checks that applying the existing and the
// saved patches to a fresh tree gives exactly the edited work tree.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src, work, out := filepath.Join(dir, "src"), filepath.Join(dir, "work"), filepath.Join(dir, "patches")
	sourceTree(t, src)
	write(t, dir, "0001-change-line-5.patch", existingPatch, 0o644)
	existing := []plan.Patch{{File: filepath.Join(dir, "0001-change-line-5.patch"), Strip: 1}}

	if err := Edit(ctx, src, work, existing); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	repo, err := git.PlainOpen(work)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := repo.Head()
	c, _ := repo.CommitObject(head.Hash())
	if !strings.HasPrefix(c.Message, "Change line 5\n") || c.Author.Email != "alice@example.org" {
		t.Errorf("patch commit = %q by %s, want subject and author from the patch", c.Message, c.Author.Email)
	}
	if err := Edit(ctx, src, work, existing); err == nil {
		t.Error("Edit into a non-empty work tree succeeded")
	}

	// The porter's edits, in two commits.
	write(t, work, "a.txt", strings.Replace(strings.Replace(numbered(30), "line 5\n", "LINE 5\n", 1), "line 25\n", "line 25 fixed\n", 1), 0o644)
	write(t, work, "new/file.txt", "brand new\n", 0o644)
	write(t, work, "build/gen.txt", "regenerated\n", 0o644)
	commitAll(t, repo, "Fix line 25 and add a file\n\nFor the ppc64le board.\n")
	if err := os.Remove(filepath.Join(work, "script.sh")); err != nil {
		t.Fatal(err)
	}
	write(t, work, "run.sh", "#!/bin/sh\necho new\n", 0o755)
	write(t, work, "img.bin", "\x00\x01\x02binary, changed\x00\xff", 0o644)
	write(t, work, "noeol.txt", "no newline", 0o644)
	commitAll(t, repo, "Replace script.sh: binary & mode\n")

	n, err := NextNumber(filepath.Dir(existing[0].File))
	if err != nil || n != 2 {
		t.Fatalf("NextNumber = %d, %v; want 2", n, err)
	}
	files, err := Save(ctx, work, out, n)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	wantNames := []string{"0002-Fix-line-25-and-add-a-file.patch", "0003-Replace-script.sh-binary-mode.patch"}
	if len(files) != 2 || filepath.Base(files[0]) != wantNames[0] || filepath.Base(files[1]) != wantNames[1] {
		t.Fatalf("Save wrote %v, want %v", files, wantNames)
	}
	first, _ := os.ReadFile(files[0])
	for _, w := range []string{"From: bootstrap-test <test@example.org>\n", "Subject: [PATCH] Fix line 25 and add a file\n", "For the ppc64le board.\n"} {
		if !bytes.Contains(first, []byte(w)) {
			t.Errorf("%s lacks %q:\n%s", files[0], w, first)
		}
	}
	if again, err := Save(ctx, work, out, 4); err != nil || len(again) != 0 {
		t.Errorf("second Save = %v, %v; want nothing new", again, err)
	}

	// Apply everything to a fresh copy of the source.
	fresh := filepath.Join(dir, "fresh")
	sourceTree(t, fresh)
	for _, p := range append(existing, plan.Patch{File: files[0], Strip: 1}, plan.Patch{File: files[1], Strip: 1}) {
		if _, err := patch.Apply(ctx, fresh, p, io.Discard); err != nil {
			t.Fatalf("Apply %s: %v", p.File, err)
		}
	}
	if got, want := snapshot(t, fresh), snapshot(t, work); got != want {
		t.Errorf("fresh tree after the saved patches:\n%s\nwant (the work tree):\n%s", got, want)
	}

	series := filepath.Join(out, "series")
	write(t, out, "series", "# local patches\nold.patch -p0\n", 0o644)
	names := []string{filepath.Base(files[0]), filepath.Base(files[1])}
	for range 2 {
		if err := UpdateSeries(series, names); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(series)
	if want := "# local patches\nold.patch -p0\n" + names[0] + "\n" + names[1] + "\n"; string(got) != want {
		t.Errorf("series = %q, want %q", got, want)
	}
}

func commitAll(t *testing.T, repo *git.Repository, msg string) {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	// build/ is ignored by the source's .gitignore: add it by name, as a
	// porter would with git add -f.
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("build/gen.txt"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "bootstrap-test", Email: "test@example.org", When: time.Now()}
	if _, err := wt.Commit(msg, &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every file below dir (but .git) with its mode and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		info, _ := d.Info()
		data, err := os.ReadFile(p)
		fmt.Fprintf(&b, "%s %o %q\n", rel, info.Mode().Perm(), data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestNameSubject(t *testing.T) {
	for in, want := range map[string]string{
		"0003-fix-the-build.patch": "fix the build",
		"cli-add-go.mod-file.diff": "cli add go.mod file",
	} {
		if got := nameSubject(in); got != want {
			t.Errorf("nameSubject(%q) = %q, want %q", in, got, want)
		}
	}
}
