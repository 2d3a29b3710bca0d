package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// checkFlags refuses flag values and combinations that would otherwise be
// ignored or do something the help does not say, for any command that has
// the flags: it runs as every command's Before hook (see conventions), so
// the command files need not repeat it. It returns a *usageError (exit 2)
// or the *arch.NotNativeError run returns for the same target.
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
	if c.Command.Name == "plan" && c.String("target") != "" && !c.Bool("emulate") {
		// run refuses a target this host cannot build natively; a plan
		// for it would list steps that run then refuses to start.
		return checkNative(c.String("target"))
	}
	return nil
}

// checkNative returns the error run gives for target on this host, or nil
// when the host builds it (or it is not a known target: compiling the
// recipe then says which targets it has).
func checkNative(target string) error {
	t, ok := arch.Lookup(target)
	if !ok {
		return nil
	}
	host, err := arch.DetectHost()
	if err != nil {
		return fmt.Errorf("detect host: %w", err)
	}
	return host.CanBuild(t)
}
