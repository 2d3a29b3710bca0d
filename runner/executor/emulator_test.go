package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

// TestFindEmulator reads a binfmt_misc directory made in the test, whose
// handler's interpreter is a Debian-style *-binfmt-P link to a program
// that prints a qemu banner: the emulator is the handler, the link and
// the banner's first line; none when the kernel runs the target itself or
// no handler is registered.
func TestFindEmulator(t *testing.T) {
	dir := t.TempDir()
	qemu := filepath.Join(dir, "qemu-riscv64")
	if err := os.WriteFile(qemu, []byte("#!/bin/sh\necho 'qemu-riscv64 version 10.0.2 (Debian 1:10.0.2+ds-2)'\necho 'Copyright (c) 2003-2025'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "riscv64-binfmt-P")
	if err := os.Symlink(qemu, link); err != nil {
		t.Fatal(err)
	}
	binfmt := filepath.Join(dir, "binfmt_misc")
	os.Mkdir(binfmt, 0o755)
	if err := os.WriteFile(filepath.Join(binfmt, "qemu-riscv64"), []byte("enabled\ninterpreter "+link+"\nflags: POF\noffset 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	amd64 := arch.Host{Kernel: "x86_64", KernelBits: 64}
	target := func(name string) arch.Target {
		tg, ok := arch.Lookup(name)
		if !ok {
			t.Fatalf("no target %s", name)
		}
		return tg
	}
	for _, tc := range []struct {
		name   string
		target string
		want   string // Short(); "" means no emulator
	}{
		{"registered", "riscv64", "qemu-riscv64 10.0.2 (Debian 1:10.0.2+ds-2)"},
		{"kernel runs it", "386", ""},
		{"no handler", "ppc64le", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := FindEmulator(context.Background(), amd64, target(tc.target), binfmt)
			switch {
			case tc.want == "" && e != nil:
				t.Errorf("emulator %v, want none", e)
			case tc.want == "":
			case e == nil:
				t.Errorf("no emulator, want %q", tc.want)
			case e.Short() != tc.want || e.Interpreter != link || !strings.Contains(e.String(), "binfmt_misc handler "+filepath.Join(binfmt, "qemu-riscv64")):
				t.Errorf("emulator %q (%s), want %q with interpreter %s", e.Short(), e, tc.want, link)
			}
		})
	}
}
