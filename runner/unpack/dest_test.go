package unpack

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileInLinksAcrossTheTree: a Debian tarball unpacked at debian/ links
// to ../engine/…; that stays inside the component's tree and must be
// accepted, while a link out of the whole tree is still refused.
func TestFileInLinksAcrossTheTree(t *testing.T) {
	tests := []struct {
		name, link string
		ok         bool
	}{
		{"into the upstream tree", "../engine/contrib/docker.service", true},
		{"out of the tree", "../../outside", false},
		{"absolute", "/etc/passwd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := filepath.Join(t.TempDir(), "tree")
			os.MkdirAll(filepath.Join(tree, "engine/contrib"), 0o755)
			os.WriteFile(filepath.Join(tree, "engine/contrib/docker.service"), []byte("[Unit]\n"), 0o644)
			archive := filepath.Join(t.TempDir(), "debian.tar")
			data := makeTar(t, []entry{
				{name: "debian/", typ: tar.TypeDir, mode: 0o755},
				{name: "debian/rules", body: "#!/usr/bin/make -f\n", mode: 0o755},
				{name: "debian/docker.io.docker.service", typ: tar.TypeSymlink, link: tt.link},
			})
			os.WriteFile(archive, data, 0o644)
			err := FileIn(context.Background(), archive, Dest{Root: tree, Sub: "debian"}, 1)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(tree, "debian/docker.io.docker.service"))
				if err != nil || !bytes.Equal(got, []byte("[Unit]\n")) {
					t.Errorf("link resolves to %q, %v", got, err)
				}
				if _, err := os.Stat(filepath.Join(tree, "debian/rules")); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "docker.io.docker.service") {
				t.Fatalf("err = %v, want a refusal", err)
			}
			if _, err := os.Lstat(filepath.Join(tree, "debian/docker.io.docker.service")); err == nil {
				t.Error("the escaping link was left in the tree")
			}
		})
	}
}

func TestFileInRejectsBadSub(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "a.tar")
	os.WriteFile(archive, makeTar(t, []entry{{name: "x", body: "x"}}), 0o644)
	for _, sub := range []string{"../up", "/abs"} {
		if err := FileIn(context.Background(), archive, Dest{Root: t.TempDir(), Sub: sub}, 0); err == nil {
			t.Errorf("sub %q accepted", sub)
		}
	}
}
