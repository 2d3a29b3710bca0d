package doctor

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/sys/unix"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
	"github.com/porterkit/bootstrap/runner/internal/debpkg"
	"github.com/porterkit/bootstrap/runner/require"
)

// checkTool looks the tool up on env's PATH and, when the recipe gives a
// version constraint, runs it for its version.
func checkTool(ctx context.Context, t recipe.Tool, env []string) Result {
	res := Result{Kind: "tool", Name: t.Name.Value, Pos: t.Pos}
	path, err := require.LookPath(t.Name.Value, env)
	if err != nil {
		res.Status, res.Detail = Missing, "not on PATH"
		return res
	}
	if t.Version.Value == "" {
		res.Status, res.Detail = OK, path
		return res
	}
	c, err := semver.NewConstraint(t.Version.Value)
	if err != nil {
		res.Status, res.Detail = Missing, fmt.Sprintf("bad version constraint %q: %v", t.Version.Value, err)
		return res
	}
	tv, err := require.Version(ctx, path, env, nil)
	if err != nil {
		res.Status, res.Detail = Unknown, err.Error()
		return res
	}
	if !c.Check(tv.Version) {
		res.Status, res.Detail = Missing, fmt.Sprintf("%s is %s, want %s", path, tv.Raw, t.Version.Value)
		return res
	}
	res.Status, res.Detail = OK, fmt.Sprintf("%s %s (%s)", path, tv.Raw, t.Version.Value)
	return res
}

// checkPackages asks dpkg which of the packages are installed ("ii"), in
// one dpkg-query for all of them: a recipe lists a hundred build
// dependencies, and `run` checks them before every run, so one process per
// package cost seconds on a rerun that has nothing to do.
func checkPackages(ctx context.Context, pkgs []recipe.Str) []Result {
	results := make([]Result, len(pkgs))
	names := make([]string, len(pkgs))
	for i, p := range pkgs {
		results[i] = Result{Kind: "package", Name: p.Value, Pos: p.Pos}
		names[i] = p.Value
	}
	installed, err := debpkg.Installed(ctx, names)
	if err != nil {
		for i := range results {
			results[i].Status, results[i].Detail = Unknown, err.Error()
		}
		return results
	}
	for i := range results {
		if p, ok := installed[names[i]]; ok {
			results[i].Status, results[i].Detail = OK, p.Version
		} else {
			results[i].Status, results[i].Detail = Missing, "not installed"
		}
	}
	return results
}

// checkDisk compares the free space on the work dir's file system with the
// hint.
func checkDisk(hint recipe.Str, workDir string) Result {
	res := Result{Kind: "disk", Name: hint.Value, Pos: hint.Pos}
	need, err := recipe.ParseSize(hint.Value)
	if err != nil {
		res.Status, res.Detail = Missing, err.Error()
		return res
	}
	dir := existingAncestor(workDir)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		res.Status, res.Detail = Unknown, fmt.Sprintf("statfs %s: %v", dir, err)
		return res
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	res.Detail = fmt.Sprintf("%s free at %s", formatSize(free), dir)
	res.Status = OK
	if free < need {
		res.Status = Missing
		res.Detail += ", need " + hint.Value
	}
	return res
}

// existingAncestor returns dir or its nearest parent that exists: the work
// dir is usually created by the run, after the doctor.
func existingAncestor(dir string) string {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	for {
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return abs
		}
		abs = parent
	}
}

// checkMemory compares MemTotal with the hint.
func checkMemory(hint recipe.Str, meminfo string) Result {
	res := Result{Kind: "memory", Name: hint.Value, Pos: hint.Pos}
	need, err := recipe.ParseSize(hint.Value)
	if err != nil {
		res.Status, res.Detail = Missing, err.Error()
		return res
	}
	if meminfo == "" {
		meminfo = "/proc/meminfo"
	}
	total, err := memTotal(meminfo)
	if err != nil {
		res.Status, res.Detail = Unknown, err.Error()
		return res
	}
	res.Status, res.Detail = OK, formatSize(total)+" total"
	if total < need {
		res.Status = Missing
		res.Detail += ", need " + hint.Value + " (add swap or lower -j)"
	}
	return res
}

// memTotal reads MemTotal from a meminfo file, in bytes.
func memTotal(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("%s: no MemTotal line", path)
}

// formatSize prints bytes in the units recipes use (powers of 1024).
func formatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f%c", f, "KMGT"[i])
}

// checkKernel looks each option up in the kernel config. Without a config
// every option is unknown: many kernels do not ship one.
func checkKernel(opts []recipe.Str, path string) []Result {
	cfg, from, err := kernelConfig(path)
	var out []Result
	for _, o := range opts {
		name, wantVal, _ := strings.Cut(o.Value, "=")
		if !strings.HasPrefix(name, "CONFIG_") {
			name = "CONFIG_" + name
		}
		res := Result{Kind: "kernel", Name: o.Value, Pos: o.Pos}
		val, set := cfg[name]
		switch {
		case err != nil:
			res.Status, res.Detail = Unknown, err.Error()
		case !set:
			res.Status, res.Detail = Missing, "not set in "+from
		case wantVal != "" && val != wantVal:
			res.Status, res.Detail = Missing, fmt.Sprintf("%s=%s in %s", name, val, from)
		default:
			res.Status, res.Detail = OK, fmt.Sprintf("=%s (%s)", val, from)
		}
		out = append(out, res)
	}
	return out
}

// kernelConfig reads the running kernel's config: path if given, else
// /proc/config.gz (CONFIG_IKCONFIG_PROC), else /boot/config-<release>.
// It returns the set options and the file they came from.
func kernelConfig(path string) (map[string]string, string, error) {
	candidates := []string{path}
	if path == "" {
		candidates = []string{"/proc/config.gz"}
		var u unix.Utsname
		if err := unix.Uname(&u); err == nil {
			candidates = append(candidates, "/boot/config-"+unix.ByteSliceToString(u.Release[:]))
		}
	}
	for _, p := range candidates {
		cfg, err := readKernelConfig(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, p, err
		}
		return cfg, p, nil
	}
	return nil, "", fmt.Errorf("no kernel config (%s)", strings.Join(candidates, ", "))
}

// readKernelConfig parses NAME=value lines, gunzipping a .gz file; "# X is
// not set" lines are left out, so absent means not set.
func readKernelConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	cfg := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			cfg[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return cfg, nil
}

// checkBinfmt looks a binfmt_misc handler up. A target name (ppc64le,
// armhf…) stands for qemu-user-static's handler for it.
func checkBinfmt(h recipe.Str, dir string) Result {
	res := Result{Kind: "binfmt", Name: h.Value, Pos: h.Pos}
	if dir == "" {
		dir = "/proc/sys/fs/binfmt_misc"
	}
	name := h.Value
	if t, ok := arch.Lookup(name); ok && !strings.HasPrefix(name, "qemu-") {
		name = t.QEMU
	}
	if _, err := os.Stat(filepath.Join(dir, "status")); err != nil {
		res.Status = Unknown
		res.Detail = fmt.Sprintf("binfmt_misc is not mounted at %s (mount -t binfmt_misc binfmt_misc %s)", dir, dir)
		return res
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Status, res.Detail = Missing, fmt.Sprintf("no handler %s registered (apt-get install qemu-user-static binfmt-support)", name)
	case err != nil:
		res.Status, res.Detail = Unknown, err.Error()
	case strings.HasPrefix(string(b), "enabled"):
		res.Status, res.Detail = OK, name+" enabled"
	default:
		res.Status, res.Detail = Missing, fmt.Sprintf("%s is registered but disabled (echo 1 > %s)", name, filepath.Join(dir, name))
	}
	return res
}
