package require

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// GoMinimum is the oldest Go a Go source tree can be built with.
type GoMinimum struct {
	// Version is the minimum bootstrap Go, like 1.20.6.
	Version *semver.Version
	// From is the file it was read from, relative to the tree
	// (src/cmd/dist/notgo120.go or src/make.bash).
	From string
	// Tree is the tree's own version from its VERSION file ("go1.22.12"),
	// empty for a checkout without one.
	Tree string
}

// String says it the way the error messages do: "go 1.22.12 needs Go ≥
// 1.20.6 to build (src/cmd/dist/notgo120.go)".
func (m GoMinimum) String() string {
	tree := "this Go tree"
	if m.Tree != "" {
		tree = "go " + strings.TrimPrefix(m.Tree, "go")
	}
	return fmt.Sprintf("%s needs Go ≥ %s to build (%s)", tree, m.Version.Original(), m.From)
}

var (
	// Since Go 1.20, cmd/dist carries a file that only compiles with a too
	// old bootstrap Go, whose package name is the message:
	// building_Go_requires_Go_1_20_6_or_later (go.dev/issue/44505).
	notgoPackageRE = regexp.MustCompile(`(?m)^package building_Go_requires_Go_(\d+)_(\d+)(?:_(\d+))?_or_later\s*$`)
	// make.bash documents the minimum in its header in every release:
	// "GOROOT_BOOTSTRAP: A working Go tree >= Go 1.4 for bootstrap."
	makeBashRE = regexp.MustCompile(`GOROOT_BOOTSTRAP: A working Go tree >= Go (\d+\.\d+(?:\.\d+)?) for bootstrap`)
	// Older make.bash scripts (Go 1.5 and 1.6) say it only in the error
	// they print when GOROOT_BOOTSTRAP has no bin/go: "Set
	// $GOROOT_BOOTSTRAP to a working Go tree >= Go 1.4." Newer ones print
	// $bootgo there, which this does not match.
	makeBashErrorRE = regexp.MustCompile(`GOROOT_BOOTSTRAP to a working Go tree >= Go (\d+\.\d+(?:\.\d+)?)\.`)
)

// GoSourceMinimum reads the minimum bootstrap Go version from the Go source
// tree at dir: the notgo*.go files of src/cmd/dist (Go ≥ 1.20), else the
// header of src/make.bash (Go 1.4 for Go ≤ 1.19). It returns an error when
// dir holds neither.
func GoSourceMinimum(dir string) (GoMinimum, error) {
	m := GoMinimum{Tree: treeVersion(dir)}
	files, err := filepath.Glob(filepath.Join(dir, "src", "cmd", "dist", "notgo*.go"))
	if err != nil {
		return GoMinimum{}, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return GoMinimum{}, fmt.Errorf("read Go bootstrap requirement: %w", err)
		}
		sm := notgoPackageRE.FindSubmatch(b)
		if sm == nil {
			continue
		}
		patch := string(sm[3])
		if patch == "" {
			patch = "0"
		}
		v, err := semver.NewVersion(string(sm[1]) + "." + string(sm[2]) + "." + patch)
		if err != nil {
			return GoMinimum{}, fmt.Errorf("%s: %w", f, err)
		}
		if m.Version == nil || v.GreaterThan(m.Version) {
			m.Version, m.From = v, filepath.ToSlash(filepath.Join("src", "cmd", "dist", filepath.Base(f)))
		}
	}
	if m.Version != nil {
		return m, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "src", "make.bash"))
	if errors.Is(err, fs.ErrNotExist) {
		return GoMinimum{}, fmt.Errorf("%s is not a Go source tree: no src/cmd/dist/notgo*.go and no src/make.bash", dir)
	}
	if err != nil {
		return GoMinimum{}, fmt.Errorf("read Go bootstrap requirement: %w", err)
	}
	sm := makeBashRE.FindSubmatch(b)
	if sm == nil {
		sm = makeBashErrorRE.FindSubmatch(b)
	}
	if sm == nil {
		return GoMinimum{}, fmt.Errorf("%s: no \"GOROOT_BOOTSTRAP: A working Go tree >= Go X\" line to read the bootstrap minimum from", filepath.Join(dir, "src", "make.bash"))
	}
	v, err := semver.NewVersion(string(sm[1]))
	if err != nil {
		return GoMinimum{}, fmt.Errorf("src/make.bash: %w", err)
	}
	m.Version, m.From = v, "src/make.bash"
	return m, nil
}

// treeVersion returns the first line of the tree's VERSION file; a git
// checkout has none, which is not an error.
func treeVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		return ""
	}
	return firstLine(string(b))
}
