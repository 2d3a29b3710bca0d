//go:build ignore

// mkzip stands in for `make.bash -distpack` in the verify tests: it packs
// a Go-like tree into a toolchain module zip the way cmd/distpack does —
// names sorted, go.mod renamed to _go.mod, a fixed time, no pkg/ — so the
// same tree always gives the same bytes.
//
// Usage: go run mkzip.go GOROOT MODULE@VERSION OUT.zip
package main

import (
	"archive/zip"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	root, prefix, out := os.Args[1], os.Args[2], os.Args[3]
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && rel == "pkg" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	sort.Strings(names)
	f, err := os.Create(out)
	if err != nil {
		log.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(root, n))
		if err != nil {
			log.Fatal(err)
		}
		name := n
		if name == "go.mod" || strings.HasSuffix(name, "/go.mod") {
			name = strings.TrimSuffix(name, "go.mod") + "_go.mod"
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + "/" + name, Method: zip.Deflate,
			Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			log.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
