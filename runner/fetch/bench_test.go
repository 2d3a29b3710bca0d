package fetch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// BenchmarkGoTarball compares Materialize (verify and unpack in one pass)
// of the real go1.19.8 source tarball with `sha256sum` then `tar xzf` of
// the same file. BOOTSTRAP_BENCH_TARBALL overrides the tarball (its sha256
// is then computed first).
func BenchmarkGoTarball(b *testing.B) {
	tarball := os.Getenv("BOOTSTRAP_BENCH_TARBALL")
	if tarball == "" {
		tarball = goTarball
	}
	if _, err := os.Stat(tarball); err != nil {
		b.Skipf("%s absent: %v", tarball, err)
	}
	cache := b.TempDir()
	sums, err := CacheAdd(cache, tarball)
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	fresh := func(b *testing.B) string {
		b.StopTimer()
		os.RemoveAll(filepath.Join(work, "dest"))
		dest := filepath.Join(work, "dest")
		os.Mkdir(dest, 0o755)
		b.StartTimer()
		return dest
	}
	b.Run("bootstrap", func(b *testing.B) {
		f := New(Options{CacheDir: cache, Offline: true})
		src := plan.Source{Kind: "url", URLs: []string{"https://dl.google.com/go/go1.19.8.src.tar.gz"}, SHA256: sums[0], Strip: 1}
		for range b.N {
			dest := fresh(b)
			if err := f.Fetch(context.Background(), src, nil); err != nil {
				b.Fatal(err)
			}
			if err := f.Materialize(context.Background(), src, dest, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sha256sum+tar", func(b *testing.B) {
		p := CachePath(cache, sums[0])
		for range b.N {
			dest := fresh(b)
			cmd := exec.Command("sh", "-c", `sha256sum "$1" >/dev/null && tar xzf "$1" --strip-components=1 -C "$2"`, "sh", p, dest)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
}
