package patch

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// BenchmarkDockerSeries measures applying Debian's docker.io patch series
// (26 patches over engine, cli and libnetwork) to an unpacked tree. Each
// iteration patches a hard-linked copy of a pristine tree, which is safe
// because Apply replaces files by rename and never writes into them.
func BenchmarkDockerSeries(b *testing.B) {
	dsc := filepath.Join(debsrcDir(), "docker.io_20.10.24+dfsg1-1+deb12u1.dsc")
	if _, err := os.Stat(dsc); err != nil {
		b.Skipf("needs the Debian docker.io source: %v", err)
	}
	dir := b.TempDir()
	pristine := filepath.Join(dir, "pristine")
	unpackDebian(b, dsc, pristine)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		tree := filepath.Join(dir, "t", string(rune('a'+i%26))+filepath.Base(b.TempDir()))
		if err := linkTree(pristine, tree); err != nil {
			b.Fatal(err)
		}
		series := filepath.Join(tree, "debian", "patches", "series")
		b.StartTimer()
		if _, err := Apply(context.Background(), tree, plan.Patch{Series: series, Strip: 1}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// linkTree recreates src's directories under dst and hard-links its files.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		return os.Link(p, to)
	})
}
