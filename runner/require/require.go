// Package require checks a tool's version before a component builds with
// it: a semver constraint from the recipe, or "go-source", the minimum
// bootstrap Go that the Go source tree being built declares.
//
// Versions are read by running the tool (`go version` for Go, `--version`
// for everything else), so a check sees exactly the binary the step will
// run, found on the step's own PATH.
package require

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// GoSource is the Constraint value that asks for the Go source tree's own
// bootstrap minimum.
const GoSource = "go-source"

// versionTimeout bounds a `--version` run: a tool that waits for input or
// hangs must not hang the build.
const versionTimeout = time.Minute

// UnmetError is returned when a tool's version does not satisfy a
// requirement.
type UnmetError struct {
	// Tool is the tool as the recipe names it (with $GOROOT_BOOTSTRAP
	// written back in when the path lies under it).
	Tool string
	// Have is the version the tool reported, as it printed it (go1.19.8).
	Have string
	// Need is the constraint, like ">= 1.20.6".
	Need string
	// Why says who needs it: "go 1.22.12 needs Go ≥ 1.20.6 to build
	// (src/cmd/dist/notgo120.go)" or the recipe position.
	Why string
}

func (e *UnmetError) Error() string {
	return fmt.Sprintf("%s; %s is %s", e.Why, e.Tool, e.Have)
}

// Check runs r.Tool, in place, in the environment env (its PATH is used to find a bare
// tool name) and returns an *UnmetError when the version does not satisfy
// r.Constraint, or another error when the version or the source tree
// cannot be read.
func Check(ctx context.Context, r plan.Requirement, env []string, place Place) error {
	tv, err := Version(ctx, r.Tool, env, place)
	if err != nil {
		return err
	}
	shown := displayTool(r.Tool, env)
	if r.Constraint == GoSource {
		min, err := GoSourceMinimum(r.SrcDir)
		if err != nil {
			return err
		}
		if !tv.Go {
			return fmt.Errorf("%s: go-source needs a Go toolchain, but %s prints %q", r.Pos, shown, tv.Line)
		}
		if tv.Version.Compare(min.Version) < 0 {
			return &UnmetError{Tool: shown, Have: tv.Raw, Need: ">= " + min.Version.Original(), Why: min.String()}
		}
		return nil
	}
	c, err := semver.NewConstraint(r.Constraint)
	if err != nil {
		return fmt.Errorf("%s: bad version constraint %q for %s: %w", r.Pos, r.Constraint, r.Tool, err)
	}
	if !c.Check(tv.Version) {
		return &UnmetError{Tool: shown, Have: tv.Raw, Need: r.Constraint,
			Why: fmt.Sprintf("%s: %s must be %s", r.Pos, r.Tool, r.Constraint)}
	}
	return nil
}

// ToolVersion is what a tool said about its version.
type ToolVersion struct {
	// Path is the executable that ran.
	Path string
	// Line is the line the version was found in.
	Line string
	// Raw is the version as printed ("go1.18", "12.2.0").
	Raw string
	// Version is Raw as semver; Go's "go1.22rc1" becomes 1.22.0-rc.1.
	Version *semver.Version
	// Go is true for a Go toolchain; Compiler is then "gc" or "gccgo".
	Go       bool
	Compiler string
}

// Version runs tool (a path, or a name looked up on env's PATH) in place
// (nil: this host) and parses its version. It returns an error naming the
// tool when it cannot be found or run or prints no version.
func Version(ctx context.Context, tool string, env []string, place Place) (ToolVersion, error) {
	if place == nil {
		place = Local{}
	}
	path, err := place.LookPath(ctx, tool, env)
	if err != nil {
		return ToolVersion{}, err
	}
	args := []string{"--version"}
	if isGoTool(path) {
		args = []string{"version"}
	}
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	// GOTOOLCHAIN=local stops a Go ≥ 1.21 from switching to another
	// toolchain because of a go.mod nearby: we want this binary's version.
	env = append(append([]string(nil), env...), "GOTOOLCHAIN=local")
	out, err := place.Output(ctx, []string{path, args[0]}, env)
	if err != nil {
		return ToolVersion{}, fmt.Errorf("%s %s: %w: %s", tool, args[0], err, firstLine(string(out)))
	}
	if isGoTool(path) && strings.Contains(string(out), "go version unknown") {
		// Debian's gccgo-12 go tool prints "go version unknown"; the Go
		// level it implements is recorded in its libgo.
		return gccgoVersion(ctx, path, env, place)
	}
	tv, err := ParseVersion(string(out))
	if err != nil {
		return ToolVersion{}, fmt.Errorf("%s %s: %w", tool, args[0], err)
	}
	tv.Path = path
	return tv, nil
}

// gccgoLevelRE finds the version string libgo carries, "go1.18 gccgo".
var gccgoLevelRE = regexp.MustCompile(`go1\.[0-9]+(\.[0-9]+)? gccgo`)

// gccgoVersion finds the Go level of a gccgo go tool that does not know
// its own version: it asks the tool for its compiler (go env GCCGO), asks
// that compiler where libgo.so is, and reads "go1.N gccgo" from the
// library. The result is parsed as if `go version` had printed it.
func gccgoVersion(ctx context.Context, goTool string, env []string, place Place) (ToolVersion, error) {
	run := func(argv ...string) (string, error) {
		out, err := place.Output(ctx, argv, env)
		return strings.TrimSpace(string(out)), err
	}
	fail := func(err error) (ToolVersion, error) {
		return ToolVersion{}, fmt.Errorf("%s prints \"go version unknown\" and its gccgo's Go level could not be read: %w", goTool, err)
	}
	gccgo, err := run(goTool, "env", "GCCGO")
	if err != nil || gccgo == "" {
		return fail(fmt.Errorf("go env GCCGO: %v", err))
	}
	lib, err := run(gccgo, "-print-file-name=libgo.so")
	if err != nil {
		return fail(err)
	}
	data, err := place.ReadFile(ctx, lib)
	if err != nil {
		return fail(err)
	}
	m := gccgoLevelRE.Find(data)
	if m == nil {
		return fail(fmt.Errorf("no \"go1.N gccgo\" in %s", lib))
	}
	tv, err := ParseVersion("go version " + string(m))
	if err != nil {
		return fail(err)
	}
	tv.Path = goTool
	tv.Line += " (from " + lib + ")"
	return tv, nil
}

// isGoTool reports whether the executable is a go command: go, or Debian's
// go-12 (gccgo's) and go-1.19 names.
func isGoTool(path string) bool {
	return regexp.MustCompile(`^go(-[0-9.]+)?$`).MatchString(filepath.Base(path))
}

var (
	goVersionRE = regexp.MustCompile(`go version (devel )?(go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta)(\d+))?)(-\S+)?(?:\s+(gccgo))?`)
	parensRE    = regexp.MustCompile(`\([^()]*\)`)
	numberRE    = regexp.MustCompile(`^v?(\d+(?:\.\d+)+)`)
	anyNumberRE = regexp.MustCompile(`\d+\.\d+(?:\.\d+)?`)
)

// ParseVersion finds the version in a tool's version output: a `go
// version` line (gc or gccgo; for gccgo it is the Go language version, not
// GCC's), else the first dotted number outside parentheses on the first
// line ("gcc (Debian 12.2.0-14) 12.2.0" → 12.2.0), else the first dotted
// number anywhere. It returns an error when there is none.
func ParseVersion(out string) (ToolVersion, error) {
	if m := goVersionRE.FindStringSubmatch(out); m != nil {
		return parseGo(m)
	}
	first := firstLine(out)
	for _, word := range strings.Fields(parensRE.ReplaceAllString(first, " ")) {
		if m := numberRE.FindStringSubmatch(word); m != nil {
			if v, err := semver.NewVersion(m[1]); err == nil {
				return ToolVersion{Line: first, Raw: m[1], Version: v}, nil
			}
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if s := anyNumberRE.FindString(line); s != "" {
			if v, err := semver.NewVersion(s); err == nil {
				return ToolVersion{Line: strings.TrimSpace(line), Raw: s, Version: v}, nil
			}
		}
	}
	return ToolVersion{}, fmt.Errorf("no version number in %q", first)
}

// parseGo turns a goVersionRE match into a ToolVersion. A devel build of
// go1.23 counts as 1.23.0-devel and a release candidate as 1.22.0-rc.1, so
// both sort before the release; a suffix on a release, as in Go 1.4's
// "go1.4-bootstrap-20171003", is ignored.
func parseGo(m []string) (ToolVersion, error) {
	devel, raw, major, minor, patch, preKind, preNum, gccgo := m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[9]
	if minor == "" {
		minor = "0"
	}
	if patch == "" {
		patch = "0"
	}
	s := major + "." + minor + "." + patch
	switch {
	case preKind != "":
		s += "-" + preKind + "." + preNum
	case devel != "":
		s += "-devel"
	}
	v, err := semver.NewVersion(s)
	if err != nil {
		return ToolVersion{}, fmt.Errorf("go version %q: %w", m[0], err)
	}
	compiler := "gc"
	if gccgo != "" {
		compiler = "gccgo"
	}
	return ToolVersion{Line: m[0], Raw: raw, Version: v, Go: true, Compiler: compiler}, nil
}
