package remote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing/fstest"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// DetectBoard works out the board's architecture with the rules of local
// detection (arch.Detect): uname -m under the login shell's personality,
// the ELF header of its /bin/sh (read with head -c) and /proc/cpuinfo, all
// read over SSH.
func DetectBoard(ctx context.Context, c *Client) (arch.Host, error) {
	out, err := c.Output(ctx, "uname -m; cat /proc/self/personality 2>/dev/null || true")
	if err != nil {
		return arch.Host{}, fmt.Errorf("detect the board's architecture: %w", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return arch.Host{}, fmt.Errorf("detect the board's architecture: uname -m printed nothing")
	}
	machine := lines[0]
	linux32 := false
	if len(lines) > 1 {
		if v, err := strconv.ParseUint(lines[1], 16, 32); err == nil {
			const perMask, perLinux32 = 0xff, 0x0008
			linux32 = v&perMask == perLinux32
		}
	}
	files := fstest.MapFS{}
	// A board without head or cpuinfo loses only that probe.
	if sh, err := c.Output(ctx, "head -c 64 /bin/sh"); err == nil && len(sh) > 0 {
		files["bin/sh"] = &fstest.MapFile{Data: sh}
	}
	if ci, err := c.Output(ctx, "cat /proc/cpuinfo"); err == nil {
		files["proc/cpuinfo"] = &fstest.MapFile{Data: ci}
	}
	return arch.Detect(arch.Probes{
		Uname:   func() (string, error) { return machine, nil },
		Linux32: func() (bool, error) { return linux32, nil },
		FS:      files,
	})
}
