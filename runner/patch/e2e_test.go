package patch

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/internal/treetest"
	"github.com/ulikunitz/xz"
)

// debsrcDir is where the E2E tests expect `apt-get source --download-only
// golang-1.19 docker.io` to have put its files (BOOTSTRAP_DEBSRC overrides).
func debsrcDir() string {
	if d := os.Getenv("BOOTSTRAP_DEBSRC"); d != "" {
		return d
	}
	return "/var/cache/bootstrap-debsrc"
}

// debianSources are the source packages the E2E test and the benchmark use.
var debianSources = []string{
	"golang-1.19_1.19.8-2.dsc",
	"docker.io_20.10.24+dfsg1-1+deb12u1.dsc",
}

// needE2E skips unless BOOTSTRAP_E2E=1, and then fails if the files are
// missing (a gated run that silently tests nothing is worse than none).
func needE2E(t *testing.T) {
	t.Helper()
	if os.Getenv("BOOTSTRAP_E2E") != "1" {
		t.Skip("set BOOTSTRAP_E2E=1 (and have the Debian sources in " + debsrcDir() + ") to run")
	}
	for _, d := range debianSources {
		if _, err := os.Stat(filepath.Join(debsrcDir(), d)); err != nil {
			t.Fatalf("BOOTSTRAP_E2E=1 but %v: run `apt-get source --download-only golang-1.19 docker.io` in %s", err, debsrcDir())
		}
	}
}

// TestE2EDebianSeries unpacks each Debian source package with archive/tar,
// applies debian/patches/series with this package, and compares the tree
// with what dpkg-source -x makes of the same .dsc.
func TestE2EDebianSeries(t *testing.T) {
	needE2E(t)
	if _, err := exec.LookPath("dpkg-source"); err != nil {
		t.Fatalf("BOOTSTRAP_E2E=1 needs dpkg-source (apt-get install dpkg-dev): %v", err)
	}
	for _, dsc := range debianSources {
		t.Run(strings.TrimSuffix(dsc, ".dsc"), func(t *testing.T) {
			dir := t.TempDir()
			ours := filepath.Join(dir, "ours")
			unpackDebian(t, filepath.Join(debsrcDir(), dsc), ours)
			var log bytes.Buffer
			rec, err := Apply(context.Background(), ours, plan.Patch{Series: filepath.Join(ours, "debian", "patches", "series"), Strip: 1}, &log)
			if err != nil {
				t.Fatalf("Apply: %v\nlog:\n%s", err, log.String())
			}
			t.Logf("applied %d patches", len(rec.Patches))
			ref := filepath.Join(dir, "ref")
			cmd := exec.Command("dpkg-source", "--no-check", "-x", filepath.Join(debsrcDir(), dsc), ref)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("dpkg-source: %v\n%s", err, out)
			}
			skipPC := treetest.Options{Skip: func(rel string) bool { return rel == ".pc" }}
			if diffs := treetest.Diff(treetest.Describe(t, ref, skipPC), treetest.Describe(t, ours, skipPC)); len(diffs) > 0 {
				t.Errorf("trees differ (%d differences):\n%s", len(diffs), strings.Join(diffs[:min(len(diffs), 30)], "\n"))
			}
		})
	}
}

// unpackDebian lays a 3.0 (quilt) source package out as dpkg-source does:
// the main orig tarball at the top, each component tarball
// (.orig-NAME.tar.*) in the subdirectory NAME, each without its single
// top-level directory, then the debian tarball replacing any debian/.
func unpackDebian(t testing.TB, dsc, dest string) {
	t.Helper()
	files := dscFiles(t, dsc)
	dir := filepath.Dir(dsc)
	orig := regexp.MustCompile(`\.orig(-([A-Za-z0-9][-A-Za-z0-9]*))?\.tar\.[a-z0-9]+$`)
	var debian string
	for _, f := range files {
		m := orig.FindStringSubmatch(f)
		switch {
		case m != nil && m[2] == "":
			untar(t, filepath.Join(dir, f), dest, 1)
		case strings.Contains(f, ".debian.tar."):
			debian = f
		}
	}
	for _, f := range files {
		if m := orig.FindStringSubmatch(f); m != nil && m[2] != "" {
			sub := filepath.Join(dest, m[2])
			if err := os.RemoveAll(sub); err != nil {
				t.Fatal(err)
			}
			untar(t, filepath.Join(dir, f), sub, 1)
		}
	}
	if debian == "" {
		t.Fatalf("%s lists no debian tarball", dsc)
	}
	if err := os.RemoveAll(filepath.Join(dest, "debian")); err != nil {
		t.Fatal(err)
	}
	untar(t, filepath.Join(dir, debian), dest, 0)
}

// dscFiles returns the file names in the .dsc's Files: field.
func dscFiles(t testing.TB, dsc string) []string {
	t.Helper()
	f, err := os.Open(dsc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "Files:":
			in = true
		case in && strings.HasPrefix(l, " "):
			if fs := strings.Fields(l); len(fs) == 3 {
				names = append(names, fs[2])
			}
		default:
			in = false
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// untar extracts a .tar.gz/.tar.xz/.tar.bz2 into dest, dropping strip
// leading path components (after any "./").
func untar(t testing.TB, file, dest string, strip int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader
	switch {
	case strings.HasSuffix(file, ".gz"):
		if r, err = gzip.NewReader(bufio.NewReader(f)); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(file, ".xz"):
		if r, err = xz.NewReader(bufio.NewReader(f)); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(file, ".bz2"):
		r = bzip2.NewReader(bufio.NewReader(f))
	default:
		t.Fatalf("unknown compression: %s", file)
	}
	if err := extract(tar.NewReader(r), dest, strip); err != nil {
		t.Fatalf("unpack %s: %v", file, err)
	}
}

func extract(tr *tar.Reader, dest string, strip int) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
		parts := strings.Split(name, "/")
		if len(parts) <= strip || name == "." {
			continue
		}
		rel := filepath.FromSlash(strings.Join(parts[strip:], "/"))
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("unsafe name %q", h.Name)
		}
		p := filepath.Join(dest, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		// Modes as tar applies them under umask 022 (what dpkg-source
		// yields as a normal user).
		mode := fs.FileMode(h.Mode) & 0o755
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			err = writeFile(p, tr, mode)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeLink:
			lp := strings.Split(strings.TrimPrefix(path.Clean(strings.TrimPrefix(h.Linkname, "./")), "/"), "/")
			err = os.Link(filepath.Join(dest, filepath.FromSlash(strings.Join(lp[strip:], "/"))), p)
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(p string, r io.Reader, mode fs.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}
