package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// checkFlags refuses flag values and combinations that would otherwise be
// ignored or do something the help does not say, for any command that has
// the flags: it runs as every command's Before hook (see conventions), so
// the command files need not repeat it. It returns a *usageError (exit 2).
// (A target this host cannot build without --emulate is refused by the
// session that run and plan open, with one message for both.)
func checkFlags(c *cli.Context) error {
	if c.IsSet("jobs") && c.Int("jobs") < 1 {
		return &usageError{fmt.Sprintf("-j/--jobs is the number of build steps run at once: 1 or more (got %d)", c.Int("jobs"))}
	}
	if c.IsSet("rootfs") && !c.Bool("emulate") {
		// emulating() treats --rootfs alone as --emulate: the help says
		// "with --emulate", and a chroot nobody asked for is a surprise.
		return &usageError{fmt.Sprintf("--rootfs %s runs the steps in that root file system under emulation: add --emulate (or drop --rootfs)", c.String("rootfs"))}
	}
	if c.Bool("quiet") {
		// --quiet would silently swallow what these flags ask to see.
		for _, f := range []string{"verbose", "dry-run"} {
			if c.Bool(f) {
				return &usageError{fmt.Sprintf("--quiet and --%s contradict each other: give one", f)}
			}
		}
	}
	return nil
}
