package remote

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// Binaries finds the static bootstrap binary for a board's architecture:
//  1. DistDir/bootstrap-linux-<arch> (what `make dist` writes; arm is
//     armv7 for armhf and armv6 for armel);
//  2. this very executable, when the board is of its architecture and it
//     is statically linked;
//  3. a cross-compiled one: `go build` of the module at SourceDir with
//     CGO_ENABLED=0, into BuildDir.
type Binaries struct {
	// DistDir is where `make dist` put its binaries; empty means
	// $BOOTSTRAP_DIST, else <SourceDir>/dist.
	DistDir string
	// Self is this executable's path (os.Executable when empty).
	Self string
	// SourceDir is the root of bootstrap's module source; empty means the
	// nearest directory above the current one whose go.mod is bootstrap's.
	SourceDir string
	// BuildDir receives cross-compiled binaries.
	BuildDir string
	// Go is the go command; empty means "go" on PATH.
	Go string
}

// modulePath is bootstrap's module path, looked for in go.mod files.
const modulePath = "github.com/porterkit/bootstrap"

// distName is the suffix `make dist` gives t's binary.
func distName(t arch.Target) string {
	switch t.Name {
	case "armhf":
		return "armv7"
	case "armel":
		return "armv6"
	}
	return t.GOARCH
}

// For returns the path of the binary for t and its sha256, saying on log
// where it came from. It returns an error naming what it tried.
func (b Binaries) For(ctx context.Context, t arch.Target, log io.Writer) (path, sum string, err error) {
	src := b.SourceDir
	if src == "" {
		src = findModule()
	}
	dist := b.DistDir
	if dist == "" {
		dist = os.Getenv("BOOTSTRAP_DIST")
	}
	if dist == "" && src != "" {
		dist = filepath.Join(src, "dist")
	}
	var tried []string
	if dist != "" {
		p := filepath.Join(dist, "bootstrap-linux-"+distName(t))
		if _, err := os.Stat(p); err == nil {
			sum, err := treehash.FileSHA256(p)
			return p, sum, err
		}
		tried = append(tried, p+" (make dist)")
	}
	self := b.Self
	if self == "" {
		self, _ = os.Executable()
	}
	if self != "" && t.GOARCH == runtime.GOARCH && static(self) {
		sum, err := treehash.FileSHA256(self)
		return self, sum, err
	}
	tried = append(tried, "this executable (not static or another architecture)")
	if src == "" {
		return "", "", fmt.Errorf("no bootstrap binary for %s: tried %s; run `make dist` in bootstrap's source, or run from it so that Go can cross-compile one", t.Name, strings.Join(tried, ", "))
	}
	out := filepath.Join(b.BuildDir, "bootstrap-linux-"+distName(t))
	fmt.Fprintf(log, "cross-compiling bootstrap for %s from %s\n", t.Name, src)
	if err := b.build(ctx, src, t, out); err != nil {
		return "", "", err
	}
	sum, err = treehash.FileSHA256(out)
	return out, sum, err
}

// build cross-compiles the module at src for t into out.
func (b Binaries) build(ctx context.Context, src string, t arch.Target, out string) error {
	goCmd := b.Go
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/bootstrap")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+t.GOARCH, "GOARM="+t.GOARM, "GO386="+t.GO386, "GOPPC64="+t.GOPPC64)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cross-compile bootstrap for %s in %s: %w\n%s", t.Name, src, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// findModule walks up from the current directory to bootstrap's go.mod.
func findModule() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(data), "module "+modulePath+"\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// static reports whether the ELF file at path has no program interpreter.
func static(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
