package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"golang.org/x/sys/unix"
)

// Entering the namespaces with unshare(2) instead of clone(2).
//
// Why: qemu-user, which runs a foreign bootstrap binary (a static
// ppc64le bootstrap in a ppc64el root file system through binfmt_misc,
// as a porter without the board does), accepts from clone(2) only the
// flag sets glibc uses for threads and fork, and fails every
// CLONE_NEW* with EINVAL before the kernel sees it; it passes unshare(2)
// and setns(2) through. So when starting the sandbox's process with the
// namespaces as clone flags fails with EINVAL, the start is tried once
// more (Fallback, called where the process is started) with the same
// namespaces as unshare flags, which Go's fork applies in the child
// before it executes bootstrap. A real kernel accepts the clone flags
// and never takes this path.
//
// All but one: a process that unshared its PID namespace is not in it —
// only its children are — and the kernel refuses it new threads
// (clone(CLONE_THREAD) fails while the two differ), which neither the Go
// runtime nor qemu-user, which needs a thread of its own from the start,
// survives. So the PID namespace is left out of the unshare flags, and
// Enter, finding itself not PID 1, makes it: it unshares the PID
// namespace on one locked thread, starts itself again from that thread
// (that child is the namespace's init, PID 1, and goes on to set the
// sandbox up exactly as a cloned one does), turns the thread's
// namespace for children back (setns) so the runtime may start threads
// on it again, and waits, passing the child's exit status (or signal)
// on as its own. The guarantees hold unchanged: the init dies with this
// process (parent-death signal) and with it every process in the
// namespace; signals to the step's process group reach the init as they
// do when it was cloned; what is mounted is the same.

// Fallback reports whether a start that failed with err may be tried
// again with the namespaces of attr (made by SysProcAttr) entered by
// unshare(2): the start failed with EINVAL, as under qemu-user, and attr
// has namespaces to move. It returns the attributes for that second
// start; attr is unchanged.
func Fallback(attr *syscall.SysProcAttr, err error) (*syscall.SysProcAttr, bool) {
	if attr == nil || !errors.Is(err, syscall.EINVAL) {
		return nil, false
	}
	a := *attr
	if !Unshare(&a) {
		return nil, false
	}
	return &a, true
}

// namespaceFlags are the clone flags that make namespaces.
const namespaceFlags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS |
	syscall.CLONE_NEWNET | syscall.CLONE_NEWUSER | syscall.CLONE_NEWCGROUP

// Unshare moves attr's namespaces from its clone flags to its unshare
// flags, all but the PID namespace, which Enter then makes itself (see
// above). It reports whether there were any to move.
func Unshare(attr *syscall.SysProcAttr) bool {
	ns := attr.Cloneflags & namespaceFlags
	if ns == 0 {
		return false
	}
	attr.Cloneflags &^= ns
	attr.Unshareflags |= ns &^ syscall.CLONE_NEWPID
	return true
}

// pidNamespaceInit makes the step's PID namespace when this process was
// started with unshare flags (it is not PID 1) and runs Enter again as
// its init; it exits with that init's status and returns only when the
// namespace cannot be made.
func pidNamespaceInit() error {
	self := "/proc/self/exe"
	if len(os.Args) > 0 && os.Args[0] != "" {
		self = os.Args[0]
	}
	// A caught signal (not an ignored one, which the child would
	// inherit) keeps this process alive while the init decides: an init
	// ignores what it does not handle, and a step's SIGTERM on a
	// cancelled run must not kill the namespace through this process.
	// SIGKILL still does, and the init follows by its death signal.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	pid, err := forkInPIDNamespace(self)
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("wait for the step's init: %w", err)
	}
	if ws.Signaled() {
		// Die of the same signal, so the caller sees what the step saw.
		signal.Reset(ws.Signal())
		_ = syscall.Kill(os.Getpid(), ws.Signal())
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(ws.ExitStatus())
	return nil
}

// forkInPIDNamespace starts self with this process's arguments and
// environment in a new PID namespace, of which it is the init.
func forkInPIDNamespace(self string) (int, error) {
	// Between unshare and setns this thread cannot start another; the
	// runtime starts threads from whichever thread needs one, so this
	// goroutine keeps it to itself, and the collector (whose workers
	// would want threads) waits.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.LockOSThread()
	ours, err := os.Open("/proc/thread-self/ns/pid")
	if err != nil {
		runtime.UnlockOSThread()
		return 0, err
	}
	defer ours.Close()
	if err := unix.Unshare(unix.CLONE_NEWPID); err != nil {
		runtime.UnlockOSThread()
		return 0, fmt.Errorf("make the step's PID namespace (unshare): %w", err)
	}
	pid, err := syscall.ForkExec(self, os.Args, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		// The init, and the namespace with it, dies with this thread.
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	// Back to starting children (and threads) in our own namespace. As
	// root in a user namespace of our own the kernel may refuse: then
	// the thread stays locked to this goroutine, which ends with the
	// process, and the runtime never uses it for anything else.
	if unix.Setns(int(ours.Fd()), unix.CLONE_NEWPID) == nil {
		runtime.UnlockOSThread()
	}
	if err != nil {
		return 0, fmt.Errorf("start the step's init %s: %w", self, err)
	}
	return pid, nil
}
