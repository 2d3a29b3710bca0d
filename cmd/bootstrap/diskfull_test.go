package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallDisk mounts a tmpfs of the given size (as mount(8) reads it: "8m")
// on a fresh directory and unmounts it when the test ends. It skips the
// test unless it runs as root on a system that lets it mount.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("full-disk tests mount a small tmpfs and need root; run them as root (CI does)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); the full-disk tests need a system that allows it", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file into the file system of dir that leaves about leave
// bytes free, and returns its path: removing it is "freeing space".
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	if free <= leave {
		t.Fatalf("%s has only %d bytes free", dir, free)
	}
	p := filepath.Join(dir, "filler")
	if err := os.WriteFile(p, make([]byte, free-leave), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkpointed reports whether the step has a checkpoint in work.
func checkpointed(work, step string) bool {
	comp, name, _ := strings.Cut(step, ":")
	_, err := os.Stat(filepath.Join(work, "state", comp, name+".json"))
	return err == nil
}

func wantDiskFull(t *testing.T, r result, step string) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"step " + step + " failed", "no space left on device", "the disk is full"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// TestWorkDirFull: the work dir's disk fills while the tarball unpacks.
// The patch step fails saying so and is not checkpointed; the cached
// tarball is not blamed (nor fetched again); once space is freed the next
// run finishes.
func TestWorkDirFull(t *testing.T) {
	disk := smallDisk(t, "8m")
	data := sourceTar(t, true, 1<<20)
	srv := newFlaky(t, data)
	dir := t.TempDir()
	cache, work := filepath.Join(dir, "cache"), filepath.Join(disk, "work")
	urlRecipe(t, dir, srv.URL+"/pkg.tar.gz", sha(data))
	filler := fill(t, disk, 512<<10)
	args := []string{"run", "--skip-doctor", "--cache", cache, "--workdir", work, "faults.yaml"}

	wantDiskFull(t, bs(t, dir, args...), "pkg:patch")
	if checkpointed(work, "pkg:patch") {
		t.Error("the failed patch step has a checkpoint")
	}
	if got, err := os.ReadFile(filepath.Join(cache, "sha256", sha(data))); err != nil || sha(got) != sha(data) {
		t.Errorf("the cached tarball was lost or changed after the work dir filled up (%v)", err)
	}
	os.Remove(filler)
	if r := bs(t, dir, args...); r.code != 0 {
		t.Fatalf("after freeing space: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1: a full work dir is not a damaged cache", n)
	}
}

// TestCacheFull: the cache's disk fills during the download. The fetch
// step fails saying so, without retrying; nothing of the file stays in the
// cache (no entry, no partial or temporary file); once space is freed the
// next run finishes.
func TestCacheFull(t *testing.T) {
	disk := smallDisk(t, "8m")
	data := sourceTar(t, true, 1<<20)
	srv := newFlaky(t, data)
	dir := t.TempDir()
	cache := filepath.Join(disk, "cache")
	urlRecipe(t, dir, srv.URL+"/pkg.tar.gz", sha(data))
	filler := fill(t, disk, 256<<10)
	args := []string{"run", "--skip-doctor", "--cache", cache, "--retry-wait", "10ms", "faults.yaml"}

	r := bs(t, dir, args...)
	wantDiskFull(t, r, "pkg:fetch")
	if !strings.Contains(r.stderr, "the cache's disk is full; removed the partial download") {
		t.Errorf("stderr does not say the cache is full:\n%s", r.stderr)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1: a full disk is not retried", n)
	}
	if checkpointed(hostWork(dir, "faults"), "pkg:fetch") {
		t.Error("the failed fetch step has a checkpoint")
	}
	for _, sub := range []string{"sha256", "partial", "tmp"} {
		if left, _ := os.ReadDir(filepath.Join(cache, sub)); len(left) > 0 {
			t.Errorf("cache/%s holds %v after the disk filled up", sub, left)
		}
	}
	os.Remove(filler)
	if r := bs(t, dir, args...); r.code != 0 {
		t.Fatalf("after freeing space: exit %d\n%s", r.code, r.stderr)
	}
}

// TestCheckpointWriteFails: a step succeeds but fills the work dir's
// disk, so its checkpoint cannot be written. The run fails naming the
// step and saying the disk is full; no checkpoint (nor temporary file) is
// left for it; after freeing space the next run redoes the step and
// finishes.
func TestCheckpointWriteFails(t *testing.T) {
	disk := smallDisk(t, "4m")
	dir := t.TempDir()
	work := filepath.Join(disk, "work")
	mark, filler := filepath.Join(dir, "fill-once"), filepath.Join(disk, "filler")
	os.WriteFile(mark, nil, 0o644)
	// PAD makes the checkpoint (which records the step's environment)
	// larger than the page the runner frees after a step (its process
	// group file), so the checkpoint cannot fit in what that frees.
	recipe := fmt.Sprintf(`name: faults
components:
  - name: c
    steps:
      - name: fill
        env:
          PAD: %[3]s
        run: |
          if [ -e %[1]s ]; then rm %[1]s; head -c 64000000 /dev/zero > %[2]s 2>/dev/null || true; fi
          echo filled
      - name: after
        run: echo after > ${{ build }}/after.txt
`, mark, filler, strings.Repeat("x", 16<<10))
	os.WriteFile(filepath.Join(dir, "faults.yaml"), []byte(recipe), 0o644)
	// The step fills the disk outside the work dir, which a sandbox
	// forbids: this test is about the checkpoint, so it runs unconfined.
	args := []string{"run", "--skip-doctor", "--no-sandbox", "--workdir", work, "faults.yaml"}

	r := bs(t, dir, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "c:fill") || !strings.Contains(r.stderr, "save checkpoint") ||
		!strings.Contains(r.stderr, "the disk is full") {
		t.Fatalf("exit %d, want 1 naming c:fill, its checkpoint and the full disk\n%s%s", r.code, r.stdout, r.stderr)
	}
	if checkpointed(work, "c:fill") || checkpointed(work, "c:after") {
		t.Error("a checkpoint was written although the disk was full")
	}
	if left, _ := filepath.Glob(filepath.Join(work, "state", "c", ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary checkpoint files left: %v", left)
	}
	os.Remove(filler)
	r = bs(t, dir, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "start c:fill") {
		t.Fatalf("after freeing space: exit %d, want c:fill rerun\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !checkpointed(work, "c:fill") || !checkpointed(work, "c:after") {
		t.Error("the steps are not checkpointed after the second run")
	}
}
