// Command bootstrap builds a chain of toolchains and programs from source, as
// described by a YAML recipe, with a checkpoint after every step.
//
// Exit codes: 0 success, 1 a step failed, 2 bad usage or invalid recipe,
// 3 the work dir is locked by another run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp().RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap:", err)
	}
	os.Exit(exitCode(err))
}

// tuneGC makes the garbage collector run only under memory pressure: a
// no-op rerun allocates a few MB and exits, and collecting during it costs
// more than a third of its time. Long runs collect once the heap nears 64
// MiB (a 256 MiB limit let an unpack sit at 200 MB RSS, too much for a
// small board). GOGC or GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(64 << 20)
}
