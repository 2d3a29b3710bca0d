package provenance

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/internal/debpkg"
)

// HostFacts describes the build machine as dependencies of the build: the
// OS release, the kernel, the C library, each compiler and tool the recipe
// names (binary digest and version line) and each Debian package it names
// (as a package URL with the installed version). What cannot be read is
// left out; facts are evidence, not checks (`bootstrap doctor` checks).
func HostFacts(ctx context.Context, r *recipe.Recipe) []ResourceDescriptor {
	var out []ResourceDescriptor
	if d, ok := fileFact("host os-release", "/etc/os-release", osPretty()); ok {
		out = append(out, d)
	}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		ver, _ := os.ReadFile("/proc/version")
		out = append(out, ResourceDescriptor{Name: "host kernel", URI: "linux:kernel/" + strings.TrimSpace(string(rel)),
			Annotations: map[string]any{"version": strings.TrimSpace(string(ver)), "machine": runtime.GOARCH}})
	}
	if libc, ok := firstGlob("/lib/*-linux-gnu*/libc.so.6", "/lib64/libc.so.6", "/usr/lib/*-linux-gnu*/libc.so.6"); ok {
		if d, ok := fileFact("host libc", libc, versionLine(ctx, "ldd", "--version")); ok {
			out = append(out, d)
		}
	}
	tools := []string{"cc", "gcc"}
	for _, t := range r.Host.Tools {
		tools = append(tools, t.Name.Value)
	}
	seen := map[string]bool{}
	for _, t := range tools {
		p, err := exec.LookPath(t)
		if err != nil || seen[t] {
			continue
		}
		seen[t] = true
		arg := "--version"
		if strings.HasPrefix(filepath.Base(p), "go") && !strings.HasPrefix(filepath.Base(p), "gcc") {
			arg = "version" // go, go-12: `go version`
		}
		if d, ok := fileFact("host tool "+t, p, versionLine(ctx, p, arg)); ok {
			out = append(out, d)
		}
	}
	names := make([]string, len(r.Host.Packages))
	for i, pkg := range r.Host.Packages {
		names[i] = pkg.Value
	}
	installed, _ := debpkg.Installed(ctx, names) // not Debian: no packages to record
	for _, n := range names {
		if p, ok := installed[n]; ok {
			out = append(out, ResourceDescriptor{Name: "host package " + n,
				URI: "pkg:deb/debian/" + n + "@" + p.Version + "?arch=" + p.Arch})
		}
	}
	return out
}

// fileFact is a file on the host with its sha256 and a version line.
func fileFact(name, path, version string) (ResourceDescriptor, bool) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ResourceDescriptor{}, false
	}
	sum, err := treehash.FileSHA256(real)
	if err != nil {
		return ResourceDescriptor{}, false
	}
	d := ResourceDescriptor{Name: name, URI: "file://" + real, Digest: map[string]string{"sha256": sum}}
	if version != "" {
		d.Annotations = map[string]any{"version": version}
	}
	return d, true
}

func firstGlob(patterns ...string) (string, bool) {
	for _, p := range patterns {
		if m, _ := filepath.Glob(p); len(m) > 0 {
			return m[0], true
		}
	}
	return "", false
}

// versionLine is the first line a program prints about its version.
func versionLine(ctx context.Context, prog string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, args...).CombinedOutput()
	if err != nil {
		return "" // no version option (dash): the digest still names the binary
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

func osPretty() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
