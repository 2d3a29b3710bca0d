package gomod

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/unpack"
)

// ToolchainModule is the module path of Go's toolchain releases.
const ToolchainModule = "golang.org/toolchain"

// Materialize unpacks the cached module zip at src.Dest inside tree with
// the MODULE@VERSION/ prefix removed, after checking its h1 again. A
// golang.org/toolchain zip gets back what its packing took away (see
// ToolchainName and ToolchainMode); other modules' files are 0644, as the
// go command's module cache would have them writable. Errors name the
// module version.
func (f *Fetcher) Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error {
	zipPath, err := f.Zip(ctx, src.Module, src.Version, src.H1, io.Discard)
	if err != nil {
		return err
	}
	got, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil || got != src.H1 {
		return fmt.Errorf("cached zip %s of %s@%s no longer hashes to %s (got %q, %v); delete it and fetch again", zipPath, src.Module, src.Version, src.H1, got, err)
	}
	n, err := Unzip(ctx, zipPath, src.Module, src.Version, unpack.Dest{Root: tree, Sub: src.Dest})
	if err != nil {
		return fmt.Errorf("unpack %s@%s: %w", src.Module, src.Version, err)
	}
	fmt.Fprintf(log, "%s@%s: %d files unpacked at %s\n", src.Module, src.Version, n, src.Dest)
	return nil
}

// Unzip writes the files of a module zip under dest without their
// MODULE@VERSION/ prefix, restoring a toolchain module's names and modes.
// It returns the number of files written.
func Unzip(ctx context.Context, zipPath, mod, version string, dest unpack.Dest) (int, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	t, err := unpack.NewTree(dest, unpack.TreeOptions{})
	if err != nil {
		return 0, err
	}
	prefix := mod + "@" + version + "/"
	toolchain := mod == ToolchainModule
	n := 0
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			t.Close()
			return n, err
		}
		name, ok := strings.CutPrefix(zf.Name, prefix)
		if !ok || name == "" {
			t.Close()
			return n, fmt.Errorf("entry %s lies outside %s", zf.Name, prefix)
		}
		if strings.HasSuffix(name, "/") { // module zips hold files only
			continue
		}
		var mode fs.FileMode = 0o644
		if toolchain {
			name, mode = ToolchainName(name), ToolchainMode(name)
		}
		if err := writeEntry(t, zf, name, mode); err != nil {
			t.Close()
			return n, err
		}
		n++
	}
	return n, t.Close()
}

func writeEntry(t *unpack.Tree, zf *zip.File, name string, mode fs.FileMode) error {
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", zf.Name, err)
	}
	defer rc.Close()
	return t.File(name, mode, zf.Modified, int64(zf.UncompressedSize64), rc)
}

// ToolchainName undoes cmd/distpack's Archive.RenameGoMod
// (src/cmd/distpack/archive.go): "RenameGoMod renames the go.mod files in
// the archive to _go.mod, for use with the module form, which cannot
// contain other go.mod files" — every name ending in "/go.mod" (below the
// module prefix, so src/go.mod and src/cmd/go.mod alike). A Go tree holds
// no file of its own named _go.mod, so the reverse is exact.
func ToolchainName(name string) string {
	if name == "_go.mod" || strings.HasSuffix(name, "/_go.mod") {
		return strings.TrimSuffix(name, "_go.mod") + "go.mod"
	}
	return name
}

// ToolchainMode is the mode cmd/distpack gives a file of a Go
// distribution (func mode in src/cmd/distpack/pack.go, which the module
// zip cannot carry): 0755 for bin/*, pkg/tool/*, *.bash, *.sh, *.pl, *.rc
// and any **/go_?*_?*_exec (lib/wasm/go_js_wasm_exec), 0644 for the rest.
// name is relative to the distribution's root (GOROOT).
func ToolchainMode(name string) fs.FileMode {
	switch {
	case strings.HasPrefix(name, "bin/"), strings.HasPrefix(name, "pkg/tool/"),
		strings.HasSuffix(name, ".bash"), strings.HasSuffix(name, ".sh"),
		strings.HasSuffix(name, ".pl"), strings.HasSuffix(name, ".rc"):
		return 0o755
	}
	// distpack's amatch("**/go_?*_?*_exec", name) matches the last path
	// element only.
	if ok, _ := path.Match("go_?*_?*_exec", path.Base(name)); ok {
		return 0o755
	}
	return 0o644
}
