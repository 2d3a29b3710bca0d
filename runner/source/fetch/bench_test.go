package fetch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// BenchmarkGoTarball compares Materialize (verify and unpack in one pass)
// of the real go1.19.8 source tarball with `sha256sum` then `tar xzf` of
// the same file. BOOTSTRAP_BENCH_TARBALL overrides the tarball (its sha256
// is then computed first).
//
// Each iteration runs both, in alternating order, and reports their times
// and the ratio. Removing a tree makes creating files near it slow for
// minutes (discards; and ext4 without a journal, as on the VMs measured,
// skips recently freed inodes one by one), for tar as for us: so every run
// unpacks into a new directory, all removed at the end, the dirty pages of
// the previous run are written back (sync) before the next starts, and the
// first waits for the disk to settle from whatever ran before.
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
	f := New(Options{CacheDir: cache, Offline: true})
	src := plan.Source{Kind: "url", URLs: []string{"https://dl.google.com/go/go1.19.8.src.tar.gz"}, SHA256: sums[0], Strip: 1}
	runs := 0
	timed := func(run func(dest string) error) time.Duration {
		runs++
		dest := filepath.Join(work, strconv.Itoa(runs))
		if err := os.Mkdir(dest, 0o755); err != nil {
			b.Fatal(err)
		}
		syscall.Sync()
		start := time.Now()
		if err := run(dest); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	ours := func(dest string) error {
		if err := f.Fetch(context.Background(), src, nil); err != nil {
			return err
		}
		return f.Materialize(context.Background(), src, dest, nil)
	}
	theirs := func(dest string) error {
		cmd := exec.Command("sh", "-c", `sha256sum "$1" >/dev/null && tar xzf "$1" --strip-components=1 -C "$2"`, "sh", CachePath(cache, sums[0]), dest)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	settle(b)
	b.ResetTimer()
	var tOurs, tTheirs time.Duration
	for i := range b.N {
		if i%2 == 0 {
			tOurs += timed(ours)
			tTheirs += timed(theirs)
		} else {
			tTheirs += timed(theirs)
			tOurs += timed(ours)
		}
	}
	b.StopTimer()
	b.ReportMetric(tOurs.Seconds()/float64(b.N), "bootstrap-s/op")
	b.ReportMetric(tTheirs.Seconds()/float64(b.N), "sha256sum+tar-s/op")
	b.ReportMetric(tOurs.Seconds()/tTheirs.Seconds(), "ratio")
}

// settle waits, up to a minute, until the kernel reports (in
// /proc/pressure/io) that tasks spent less than 1 % of the last 10 s
// waiting for I/O: after a large removal, discards and journal commits
// delay every file creation for tens of seconds, whoever creates it.
func settle(b *testing.B) {
	deadline := time.Now().Add(time.Minute)
	for {
		data, err := os.ReadFile("/proc/pressure/io")
		if err != nil {
			return // no PSI in this kernel
		}
		var avg10 float64
		if _, err := fmt.Sscanf(string(data), "some avg10=%f", &avg10); err != nil || avg10 < 1 {
			return
		}
		if time.Now().After(deadline) {
			b.Logf("the disk is still busy (I/O pressure avg10=%.1f %%): figures are noisy", avg10)
			return
		}
		time.Sleep(time.Second)
	}
}
