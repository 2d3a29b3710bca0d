// Package debpkg asks dpkg which packages are installed, in one
// dpkg-query for any number of them: a recipe lists a hundred build
// dependencies, and one process per package cost seconds on a run that
// has nothing to do.
package debpkg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Package is an installed package.
type Package struct {
	Version string
	// Arch is the package's architecture (amd64, all, …).
	Arch string
}

// ErrNoDpkg means dpkg-query is not installed: not a Debian system.
var ErrNoDpkg = errors.New("no dpkg-query: not a Debian system?")

// Installed returns the installed ("ii") packages among names, keyed by
// the name as given: plain or qualified by an architecture
// (containerd:amd64). A name that is not installed is absent.
func Installed(ctx context.Context, names []string) (map[string]Package, error) {
	dpkg, err := exec.LookPath("dpkg-query")
	if err != nil {
		return nil, ErrNoDpkg
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, dpkg, append([]string{"-W", "-f=${binary:Package}|${Package}|${db:Status-Abbrev}|${Version}|${Architecture}\n", "--"}, names...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// dpkg-query exits 1 when some name matches no package, and still
	// prints the others; anything else is a failure to ask.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && strings.Contains(stderr.String(), "no packages found")) {
		return nil, fmt.Errorf("dpkg-query: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	all := map[string]Package{} // name, with and without :arch
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) == 5 && strings.HasPrefix(f[2], "ii") {
			// binary:Package has ":arch" only for Multi-Arch: same
			// packages; a recipe may qualify any (containerd:amd64).
			p := Package{Version: f[3], Arch: f[4]}
			all[f[0]], all[f[1]], all[f[1]+":"+f[4]] = p, p, p
		}
	}
	found := map[string]Package{}
	for _, n := range names {
		if p, ok := all[n]; ok {
			found[n] = p
		}
	}
	return found, nil
}
