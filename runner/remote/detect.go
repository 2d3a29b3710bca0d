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
	// One session: each costs a round trip and a process on the board.
	// The ELF header comes last, after a marker line, being binary.
	out, err := c.Output(ctx, `uname -m; echo "P $(cat /proc/self/personality 2>/dev/null)"; cat /proc/cpuinfo 2>/dev/null; echo; echo `+shMarker+`; head -c 64 /bin/sh`)
	if err != nil {
		return arch.Host{}, fmt.Errorf("detect the board's architecture: %w", err)
	}
	text, sh, found := strings.Cut(string(out), "\n"+shMarker+"\n")
	machine, rest, _ := strings.Cut(text, "\n")
	machine = strings.TrimSpace(machine)
	if machine == "" || !found {
		return arch.Host{}, fmt.Errorf("detect the board's architecture: uname -m printed nothing")
	}
	persona, cpuinfo, _ := strings.Cut(rest, "\n")
	linux32 := false
	if v, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(persona, "P")), 16, 32); err == nil {
		const perMask, perLinux32 = 0xff, 0x0008
		linux32 = v&perMask == perLinux32
	}
	files := fstest.MapFS{}
	// A board without head or cpuinfo loses only that probe.
	if len(sh) > 0 {
		files["bin/sh"] = &fstest.MapFile{Data: []byte(sh)}
	}
	if strings.TrimSpace(cpuinfo) != "" {
		files["proc/cpuinfo"] = &fstest.MapFile{Data: []byte(cpuinfo)}
	}
	return arch.Detect(arch.Probes{
		Uname:   func() (string, error) { return machine, nil },
		Linux32: func() (bool, error) { return linux32, nil },
		FS:      files,
	})
}

// shMarker separates the text probes from /bin/sh's header.
const shMarker = "--bootstrap-elf-header--"
