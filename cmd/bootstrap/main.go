// Command bootstrap builds a chain of toolchains and programs from source, as
// described by a YAML recipe, with a checkpoint after every step.
//
// Exit codes: 0 success, 1 a step failed, 2 bad usage or invalid recipe,
// 3 the work dir is locked by another run, 130 (SIGINT) or 143 (SIGTERM)
// interrupted, naming the step that was running.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/porterkit/bootstrap/cmd/internal/cliargs"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
)

func main() {
	if executor.IsEnter() {
		// Re-executed by an emulated run to enter a root file system: it
		// execs the step's shell and never returns on success.
		err := executor.Enter()
		fmt.Fprintln(os.Stderr, "bootstrap:", err)
		os.Exit(126)
	}
	tuneGC()
	ctx, stop := runner.SignalContext(context.Background())
	err := newApp().RunContext(ctx, cliargs.Reorder(newApp(), os.Args))
	stop()
	err = runner.WithSignal(ctx, err)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap:", err)
		if errors.Is(err, syscall.ENOSPC) {
			fmt.Fprintln(os.Stderr, "bootstrap: the disk is full (no space left on device): free space and run the same command again; finished steps are kept")
		}
	}
	os.Exit(exitCode(err))
}

// tuneGC makes the garbage collector run only under memory pressure: a
// no-op rerun allocates a few tens of MB and exits, and collecting during
// it costs a third of its time. Long runs collect once the heap nears 128
// MiB (measured: no-op rerun of 400 steps 48 ms, unpacking Go's source
// tarball 134 MB RSS; at 64 MiB, 65 ms and 72 MB). On a small board set
// GOMEMLIMIT (or GOGC), which wins over this.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(128 << 20)
}
