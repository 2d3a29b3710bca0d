package doctor

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// debianPackage is a Debian package name, optionally with :arch; anything
// else (an option such as -o…) is refused rather than passed to apt-get.
var debianPackage = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$`)

// Install runs `apt-get install -y PKGS…` non-interactively, its output
// going to out. It returns an error when a name is not a package name, when
// not running as root, or when apt-get fails.
func Install(ctx context.Context, pkgs []string, out io.Writer) error {
	if len(pkgs) == 0 {
		return nil
	}
	for _, p := range pkgs {
		if !debianPackage.MatchString(p) {
			return fmt.Errorf("install: %q is not a Debian package name", p)
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("installing packages needs root; run: sudo apt-get install -y %s", strings.Join(pkgs, " "))
	}
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get install -y %s: %w", strings.Join(pkgs, " "), err)
	}
	return nil
}
