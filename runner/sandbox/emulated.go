package sandbox

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// binfmtDir is where the kernel lists its binfmt_misc handlers.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// emulator describes the binfmt_misc handler that runs this bootstrap
// binary — qemu-user for a foreign one — as "qemu-ppc64le (binfmt_misc
// handler …, interpreter …)"; "" when the kernel runs it itself, or
// when it cannot tell (binfmt_misc not mounted, as in a chroot without
// it). Only errors ask: the sandbox never decides anything by it (it
// tries, and falls back on what fails).
func emulator() string {
	self, err := os.Executable() // qemu-user shows the binary it runs
	if err != nil {
		return ""
	}
	return emulatorOf(self, binfmtDir)
}

// emulatorOf is emulator for the binary exe and the handlers in dir.
func emulatorOf(exe, dir string) string {
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if e.Name() == "register" || e.Name() == "status" {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if h := parseHandler(string(data)); h.enabled && h.matches(head) {
			return fmt.Sprintf("%s (binfmt_misc handler %s, interpreter %s)", e.Name(), path, h.interpreter)
		}
	}
	return ""
}

// handler is what a binfmt_misc entry says about the files it runs.
type handler struct {
	enabled     bool
	interpreter string
	offset      int
	magic, mask []byte
}

func parseHandler(s string) handler {
	var h handler
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "enabled":
			h.enabled = true
		case "interpreter":
			h.interpreter = v
		case "offset":
			h.offset, _ = strconv.Atoi(v)
		case "magic":
			h.magic, _ = hex.DecodeString(v)
		case "mask":
			h.mask, _ = hex.DecodeString(v)
		}
	}
	return h
}

// matches reports whether a file that begins with head is the handler's,
// as the kernel decides: its bytes at the offset, masked, are the magic.
func (h handler) matches(head []byte) bool {
	if len(h.magic) == 0 || h.offset < 0 || h.offset+len(h.magic) > len(head) {
		return false
	}
	got := append([]byte(nil), head[h.offset:h.offset+len(h.magic)]...)
	for i := range got {
		if i < len(h.mask) {
			got[i] &= h.mask[i]
		}
	}
	return bytes.Equal(got, h.magic)
}

// emulatorNote is what an error of the sandbox adds about how to get
// past it: the emulator when there is one, and --no-sandbox.
func emulatorNote() string {
	if emu := emulator(); emu != "" {
		return "bootstrap runs under " + emu + ", which may not pass on every system call the sandbox makes; --no-sandbox runs steps unconfined"
	}
	return "--no-sandbox runs steps unconfined"
}
