package unpack

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Creating a file costs the kernel far more than inflating its bytes (on the
// 2-core VM we measured, 13,000 files of Go's source took 0.4 to 3.3 s of
// system time from run to run, against 0.4 s to inflate them), and tar
// creates its files one at a time. So small files are read from the archive
// into memory and created by a few goroutines while the archive is read on.
const (
	// numWriters is how many goroutines create files. Most of a file's
	// creation is time in the kernel, so more writers than cores still help.
	numWriters = 4
	// maxQueued is the largest file handed to a writer; a larger one is
	// written by the reading goroutine as it streams out of the archive.
	maxQueued = 256 << 10
	// numBuffers bounds the files in flight, and so the memory they hold
	// (numBuffers × maxQueued at most).
	numBuffers = 32
)

// dirHandle is a directory of the tree, opened once through the os.Root and
// shared by the extractor and the writers creating files in it; the last
// user closes it.
type dirHandle struct {
	name string // relative to the root; "." is the root itself
	root *os.Root
	dir  *os.File
	fd   int
	refs atomic.Int32
}

// openDir opens name (resolved by the caller, so holding no symlinks) below
// root, creating it if needed, with one reference for the caller.
func openDir(root *os.Root, name string) (*dirHandle, error) {
	if err := root.MkdirAll(name, 0o755); err != nil {
		return nil, err
	}
	r, err := root.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	dir, err := r.Open(".")
	if err != nil {
		r.Close()
		return nil, err
	}
	d := &dirHandle{name: name, root: r, dir: dir, fd: int(dir.Fd())}
	d.refs.Store(1)
	return d, nil
}

func (d *dirHandle) acquire() { d.refs.Add(1) }

func (d *dirHandle) release() {
	if d.refs.Add(-1) == 0 {
		d.dir.Close()
		d.root.Close()
	}
}

// createFile creates base in d for writing and returns its descriptor. base
// is one path element and the open neither follows a symlink nor reuses an
// existing file, so, like every other write, it cannot leave the os.Root
// that d was opened through. Something already at base (an earlier entry of
// the same name, or a file that was in the destination) is replaced, as tar
// does, unless it is a directory.
func createFile(d *dirHandle, base string, perm uint32) (int, error) {
	if base == "" || base == "." || base == ".." || strings.Contains(base, "/") {
		return -1, fmt.Errorf("create %q: not a single path element", base)
	}
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := retry(func() (int, error) { return unix.Openat(d.fd, base, flags, perm) })
	if err == unix.EEXIST {
		if err := makeRoom(d.root, base); err != nil {
			return -1, err
		}
		fd, err = retry(func() (int, error) { return unix.Openat(d.fd, base, flags, perm) })
	}
	if err != nil {
		return -1, &fs.PathError{Op: "create", Path: path.Join(d.name, base), Err: err}
	}
	return fd, nil
}

// retry repeats a system call interrupted by a signal (the Go runtime
// preempts goroutines with signals), as package os does.
func retry(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// writeAll writes b to fd, looping over short writes.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := retry(func() (int, error) { return unix.Write(fd, b) })
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// perms holds how a file gets its mode: created with it, when the process's
// umask leaves it whole (one system call fewer per file), else set after.
type perms struct {
	umask uint32 // 0o777 when unknown, so that every mode is set after
}

// newPerms reads the umask from /proc (Linux 4.7 and later): umask(2) can
// only read it by changing it, which would race with other goroutines.
func newPerms() perms {
	p := perms{umask: 0o777}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return p
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%o", &p.umask); err != nil {
				p.umask = 0o777
			}
		}
	}
	return p
}

// create returns the mode to create a file with and whether it must be set
// again after.
func (p perms) create(mode fs.FileMode) (uint32, bool) {
	m := uint32(mode.Perm())
	if m&p.umask != 0 {
		return 0o600, true
	}
	return m, false
}

// closeFile sets the mode of the file just written at base in d when chmod
// says so, closes it, then sets its mtime (closing first, so that the
// write-back of a close cannot bump it).
func closeFile(d *dirHandle, base string, fd int, mode fs.FileMode, chmod bool, mtime time.Time, err error) error {
	if err == nil && chmod {
		_, err = retry(func() (int, error) { return 0, unix.Fchmod(fd, uint32(mode.Perm())) })
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err == nil && !mtime.IsZero() {
		ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		_, err = retry(func() (int, error) { return 0, unix.UtimesNanoAt(d.fd, base, ts, unix.AT_SYMLINK_NOFOLLOW) })
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: path.Join(d.name, base), Err: err}
	}
	return nil
}

// writeFile creates base in d holding data.
func (p perms) writeFile(d *dirHandle, base string, mode fs.FileMode, mtime time.Time, data []byte) error {
	perm, chmod := p.create(mode)
	fd, err := createFile(d, base, perm)
	if err != nil {
		return err
	}
	return closeFile(d, base, fd, mode, chmod, mtime, writeAll(fd, data))
}

// streamFile creates base in d with what r yields, through buf; size, when
// not negative, is how many bytes r must yield.
func (p perms) streamFile(d *dirHandle, base string, mode fs.FileMode, mtime time.Time, size int64, r io.Reader, buf []byte) error {
	perm, chmod := p.create(mode)
	fd, err := createFile(d, base, perm)
	if err != nil {
		return err
	}
	var written int64
	for err == nil {
		var n int
		n, err = r.Read(buf)
		if n > 0 {
			written += int64(n)
			if werr := writeAll(fd, buf[:n]); werr != nil {
				err = werr
			}
		}
	}
	if err == io.EOF {
		err = nil
		if size >= 0 && written != size {
			err = fmt.Errorf("entry holds %d bytes, its header says %d", written, size)
		}
	}
	return closeFile(d, base, fd, mode, chmod, mtime, err)
}

// readFull reads exactly size bytes of r into a buffer of at least that
// capacity, then makes sure r has nothing more: a zip entry verifies its
// checksum only when read to the end.
func readFull(r io.Reader, buf []byte, size int) ([]byte, error) {
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	var one [1]byte
	n, err := r.Read(one[:])
	if n > 0 {
		return nil, fmt.Errorf("entry holds more than the %d bytes its header says", size)
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf, nil
}

// writeJob is a file for a writer to create.
type writeJob struct {
	entry string // as named in the archive, for errors
	dir   *dirHandle
	base  string
	mode  fs.FileMode
	mtime time.Time
	data  []byte
}

// writers is the pool of goroutines that create queued files. The extractor
// is its only client: it queues files and waits for them (wait) before any
// entry that could touch a file still queued.
type writers struct {
	archive string
	perms   perms
	jobs    chan writeJob
	free    chan []byte
	made    int // buffers allocated so far, up to numBuffers
	started bool
	queued  sync.WaitGroup

	mu  sync.Mutex
	err error
}

func newWriters(archive string) *writers {
	return &writers{archive: archive, perms: newPerms(), free: make(chan []byte, numBuffers)}
}

// buffer returns a buffer of at least size bytes' capacity, waiting for a
// writer to hand one back when all are in flight.
func (w *writers) buffer(size int) []byte {
	var b []byte
	select {
	case b = <-w.free:
	default:
		if w.made < numBuffers {
			w.made++
		} else {
			b = <-w.free
		}
	}
	if cap(b) < size {
		b = make([]byte, 0, max(size, 32<<10))
	}
	return b
}

// queue hands a file to the writers; the job holds a reference on its
// directory until the file is written.
func (w *writers) queue(j writeJob) {
	if !w.started {
		w.started = true
		w.jobs = make(chan writeJob, numBuffers)
		for range numWriters {
			go w.run()
		}
	}
	j.dir.acquire()
	w.queued.Add(1)
	w.jobs <- j
}

func (w *writers) run() {
	for j := range w.jobs {
		if w.failed() == nil {
			if err := w.perms.writeFile(j.dir, j.base, j.mode, j.mtime, j.data); err != nil {
				w.fail(&EntryError{Archive: w.archive, Entry: j.entry, Err: err})
			}
		}
		j.dir.release()
		w.free <- j.data[:0]
		w.queued.Done()
	}
}

func (w *writers) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// failed returns the first error a writer met, if any.
func (w *writers) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// wait returns once every queued file is written, with the first error.
func (w *writers) wait() error {
	w.queued.Wait()
	return w.failed()
}

// stop waits for the queued files and ends the goroutines.
func (w *writers) stop() error {
	err := w.wait()
	if w.started {
		close(w.jobs)
		w.started = false
	}
	return err
}
