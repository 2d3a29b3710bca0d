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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp().RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap:", err)
	}
	os.Exit(exitCode(err))
}
