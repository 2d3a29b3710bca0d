package executor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/runner/provenance"
)

// Emulator is the qemu-user that runs a foreign tree's programs, as its
// binfmt_misc handler names it. qemu can compute wrong results (a
// ppc64le go:make once rejected valid Go and passed when rerun;
// golang/go#34139): a step that fails under it says which emulator ran
// it, so that a porter can tell a build's failure from the emulator's.
type Emulator struct {
	// Handler is the binfmt_misc entry, e.g.
	// /proc/sys/fs/binfmt_misc/qemu-ppc64le.
	Handler string
	// Interpreter is the program the handler runs, as registered.
	Interpreter string
	// Version is the first line of its --version, e.g. "qemu-ppc64le
	// version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)"; an error
	// in parentheses when it could not be had.
	Version string
}

// Short is the emulator in a few words, "qemu-ppc64le 10.0.2 (Debian …)":
// what an attempt file records.
func (e *Emulator) Short() string {
	return strings.Replace(e.Version, " version ", " ", 1)
}

// String is the emulator with where it was found, for errors.
func (e *Emulator) String() string {
	return fmt.Sprintf("%s (binfmt_misc handler %s, interpreter %s)", e.Version, e.Handler, e.Interpreter)
}

// Emulated is an executor whose programs run in an emulator; Emulator
// returns nil when the kernel runs them itself.
type Emulated interface {
	Emulator() *Emulator
}

// FindEmulator returns the qemu-user that runs t's programs on host h
// through binfmt_misc (dir, default /proc/sys/fs/binfmt_misc), nil when
// h's kernel runs them itself or no handler is registered (doctor says
// so before a run).
func FindEmulator(ctx context.Context, h arch.Host, t arch.Target, dir string) *Emulator {
	if h.KernelRuns(t) || t.QEMU == "" {
		return nil
	}
	if dir == "" {
		dir = "/proc/sys/fs/binfmt_misc"
	}
	handler := filepath.Join(dir, t.QEMU)
	data, err := os.ReadFile(handler)
	if err != nil {
		return nil
	}
	e := &Emulator{Handler: handler}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "interpreter "); ok {
			e.Interpreter = v
		}
	}
	e.Version = t.QEMU + " (version unknown: no interpreter in " + handler + ")"
	if e.Interpreter != "" {
		e.Version = emulatorVersion(ctx, t.QEMU, e.Interpreter)
	}
	return e
}

// emulatorVersion is the first line of the emulator's --version. Debian's
// interpreters are links named *-binfmt-P that refuse to run by that
// name, so the link is resolved first.
func emulatorVersion(ctx context.Context, name, interpreter string) string {
	bin, err := filepath.EvalSymlinks(interpreter)
	if err != nil {
		return fmt.Sprintf("%s (version unknown: %v)", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return fmt.Sprintf("%s (version unknown: %s --version: %v)", name, bin, err)
	}
	line, _, _ := bufio.NewReader(bytes.NewReader(out)).ReadLine()
	return strings.TrimSpace(string(line))
}

// Emulator implements Emulated.
func (c *Chroot) Emulator() *Emulator { return c.emulator }

// emulatorFact describes the emulator for the provenance record.
func (e *Emulator) fact() provenance.ResourceDescriptor {
	return provenance.ResourceDescriptor{Name: "emulator " + filepath.Base(e.Handler), URI: "file://" + e.Handler,
		Annotations: map[string]any{"interpreter": e.Interpreter, "version": e.Version}}
}
