// Package rootfs builds, caches and describes Debian root file systems of a
// target's architecture, in which an emulated run executes its steps.
//
// A root file system is made with mmdebstrap rather than debootstrap:
// mmdebstrap resolves the package list with apt (debootstrap's own resolver
// cannot handle alternatives and multiarch, and docker.io's build
// dependencies need both), installs a foreign architecture in one pass
// through binfmt_misc (debootstrap needs --foreign plus a second stage run
// inside), can add a second architecture for the few programs that must run
// natively (a container runtime), and makes the same tree from the same
// inputs. It is one Debian package on the host, and only the host needs it.
//
// Each tree lives in the cache under a name derived from everything that
// shapes it (suite, architectures, mirror, variant and the sorted package
// list), so a second run or a second recipe with the same needs reuses it.
// It is built in a temporary directory and renamed into place only when
// complete, with its package list written beside it: the package list
// (what dpkg says is installed, with versions) is the tree's identity, which
// enters the signature of every step that runs in it.
package rootfs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
)

// DefaultSuite is the Debian release a root file system is made of when the
// recipe names none (host.suite).
const DefaultSuite = "bookworm"

// DefaultVariant is mmdebstrap's package set under the recipe's packages:
// buildd is the required set plus build-essential, what a build needs.
const DefaultVariant = "buildd"

// DefaultMirror is the Debian archive mmdebstrap downloads from when no
// other mirror is given (--debian-mirror, BOOTSTRAP_DEBIAN_MIRROR).
const DefaultMirror = "http://deb.debian.org/debian"

// Spec is what a root file system is made of. Two equal Specs (after
// Normalize) name the same cache entry.
type Spec struct {
	// Suite is the Debian release, like bookworm.
	Suite string
	// Arch is the Debian architecture of the tree's userland (ppc64el).
	Arch string
	// Mirror is the Debian archive URL.
	Mirror string
	// Variant is mmdebstrap's variant (buildd by default).
	Variant string
	// Packages are installed on top of the variant. A name may carry an
	// architecture qualifier (containerd:amd64) for a program that must run
	// natively; that architecture is then added to the tree as a foreign
	// one.
	Packages []string
}

// Normalize fills in defaults and sorts and deduplicates the packages.
func (s Spec) Normalize() Spec {
	if s.Suite == "" {
		s.Suite = DefaultSuite
	}
	if s.Variant == "" {
		s.Variant = DefaultVariant
	}
	if s.Mirror == "" {
		s.Mirror = DefaultMirror
	}
	seen := map[string]bool{}
	var pkgs []string
	for _, p := range s.Packages {
		p = strings.TrimSpace(p)
		if p != "" && !seen[p] {
			seen[p] = true
			pkgs = append(pkgs, p)
		}
	}
	sort.Strings(pkgs)
	s.Packages = pkgs
	return s
}

// Architectures lists the tree's Debian architectures: Arch first, then
// every other architecture a package is qualified with.
func (s Spec) Architectures() []string {
	archs := []string{s.Arch}
	for _, p := range s.Packages {
		if _, a, ok := strings.Cut(p, ":"); ok && a != "any" && a != "native" && !contains(archs, a) {
			archs = append(archs, a)
		}
	}
	return archs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Name is the cache entry's name: readable parts and a hash of the rest,
// like bookworm-ppc64el-3f2a9c1e0b7d4e65.
func (s Spec) Name() string {
	s = s.Normalize()
	h := sha256.New()
	fmt.Fprintf(h, "suite %s\narchs %s\nmirror %s\nvariant %s\n", s.Suite, strings.Join(s.Architectures(), ","), s.Mirror, s.Variant)
	for _, p := range s.Packages {
		fmt.Fprintf(h, "package %s\n", p)
	}
	return fmt.Sprintf("%s-%s-%s", s.Suite, s.Arch, hex.EncodeToString(h.Sum(nil))[:16])
}

// String describes the spec in one line, for logs and errors.
func (s Spec) String() string {
	s = s.Normalize()
	return fmt.Sprintf("%s %s (%s, %d packages over %s)", s.Suite, strings.Join(s.Architectures(), "+"), s.Mirror, len(s.Packages), s.Variant)
}

// Package is one installed Debian package.
type Package struct {
	Name, Arch, Version string
}

// String is "name:arch version", the form of the identity's lines.
func (p Package) String() string { return p.Name + ":" + p.Arch + " " + p.Version }

// Rootfs is a complete root file system in the cache.
type Rootfs struct {
	// Dir is the tree itself.
	Dir string
	// Spec is what it was made of.
	Spec Spec
	// Packages are what dpkg reports installed, sorted by name and arch.
	Packages []Package
	// Tree is the tree hash (bootstrap/treehash, "sha256:<hex>") of Dir:
	// the tree's content identity for provenance. Filled when the tree is
	// built, or by TreeDigest for a tree built before bootstrap kept it.
	Tree string
	// entry is the cache entry the tree lives in, where TreeDigest keeps
	// the hash ("" for a tree given with --rootfs).
	entry string
}

// TreeName is the file beside packages.txt that holds the tree's hash.
const TreeName = "tree.sha256"

// TreeDigest returns the tree hash of the root file system, computing it
// only when it is not known yet and keeping it in the cache entry, so
// that a tree of a few hundred MB is hashed once, not at every run: the
// cached tree never changes (steps write to an overlay in the work dir).
// A tree given with --rootfs has no entry to keep it in and is hashed by
// each run that asks. Not safe for concurrent use; errors name the tree.
func (r *Rootfs) TreeDigest() (string, error) {
	if r.Tree != "" {
		return r.Tree, nil
	}
	sum, err := treehash.Sum(r.Dir)
	if err != nil {
		return "", fmt.Errorf("root file system %s: %w", r.Dir, err)
	}
	r.Tree = sum
	if r.entry != "" {
		if err := atomicfile.Write(filepath.Join(r.entry, TreeName), []byte(sum+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("root file system %s: keep its tree hash: %w", r.Dir, err)
		}
	}
	return sum, nil
}

// Identity is the installed package set, one "name:arch version" per line:
// what makes the tree's programs what they are.
func (r *Rootfs) Identity() string {
	lines := make([]string, len(r.Packages))
	for i, p := range r.Packages {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// entryDir is the cache entry of a spec: <cache>/rootfs/<name>. It holds
// root/ (the tree) and packages.txt (its identity, written last).
func entryDir(cacheDir string, s Spec) string {
	return filepath.Join(cacheDir, "rootfs", s.Name())
}

// ErrNotBuilt says that the cache has no root file system for a spec yet.
var ErrNotBuilt = errors.New("root file system not built yet")

// Load returns the cached root file system of s, or an error wrapping
// ErrNotBuilt when there is none.
func Load(cacheDir string, s Spec) (*Rootfs, error) {
	s = s.Normalize()
	dir := entryDir(cacheDir, s)
	f, err := os.Open(filepath.Join(dir, "packages.txt"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (%s)", s, ErrNotBuilt, dir)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pkgs, err := parseIdentity(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	r := &Rootfs{Dir: filepath.Join(dir, "root"), Spec: s, Packages: pkgs, entry: dir}
	if tree, err := os.ReadFile(filepath.Join(dir, TreeName)); err == nil {
		r.Tree = strings.TrimSpace(string(tree))
	}
	return r, nil
}

func parseIdentity(r io.Reader) ([]Package, error) {
	var pkgs []Package
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		na, v, ok := strings.Cut(line, " ")
		name, a, ok2 := strings.Cut(na, ":")
		if !ok || !ok2 {
			return nil, fmt.Errorf("line %d: want \"name:arch version\", got %q", n, line)
		}
		pkgs = append(pkgs, Package{Name: name, Arch: a, Version: v})
	}
	return pkgs, sc.Err()
}

// ReadStatus reads the installed packages from a dpkg status file (a tree's
// var/lib/dpkg/status), sorted by name and architecture.
func ReadStatus(path string) ([]Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pkgs []Package
	var cur Package
	installed := false
	flush := func() {
		if installed && cur.Name != "" {
			pkgs = append(pkgs, cur)
		}
		cur, installed = Package{}, false
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue // continuation of a multi-line field
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Package":
			cur.Name = v
		case "Architecture":
			cur.Arch = v
		case "Version":
			cur.Version = v
		case "Status":
			installed = strings.HasSuffix(v, " installed")
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
	return pkgs, nil
}
