package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
)

func TestRunArchArmv8l(t *testing.T) {
	armhf, _ := arch.Lookup("armhf")
	host := arch.Host{
		Target: armhf, UnameM: "armv8l", Kernel: "aarch64", KernelBits: 64, Linux32: true,
		CPU: arch.CPU{ARMLevel: 8, Features: true, VFP: true, NEON: true},
	}
	var out bytes.Buffer
	err := runArch(context.Background(), archOptions{Detect: func() (arch.Host, error) { return host, nil }}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"target     armhf\n",
		"uname -m   armv8l (linux32 personality)\n",
		"kernel     aarch64, 64-bit\n",
		"GOARCH     arm\n",
		"GOARM      7\n",
		"debian     armhf\n",
		"triplet    arm-linux-gnueabihf\n",
		"platform   linux/arm/v7\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
}

// TestArchUnderQEMU cross-builds the real command statically and runs it
// under qemu-user: what it prints comes from the emulated uname and ELF
// header, not from this test.
func TestArchUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds the command; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	for _, tc := range []struct{ goarch, qemu, want string }{
		{"ppc64le", "qemu-ppc64le-static", "ppc64le"},
		{"arm64", "qemu-aarch64-static", "arm64"},
	} {
		t.Run(tc.goarch, func(t *testing.T) {
			t.Parallel()
			qemu, err := exec.LookPath(tc.qemu)
			if err != nil {
				t.Skipf("%s not installed (apt-get install qemu-user-static)", tc.qemu)
			}
			bin := filepath.Join(t.TempDir(), "bootstrap-"+tc.goarch)
			build := exec.Command(gobin, "build", "-o", bin, ".")
			build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+tc.goarch)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build for %s: %v\n%s", tc.goarch, err, out)
			}
			out, err := exec.Command(qemu, bin, "arch").CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s arch: %v\n%s", tc.qemu, bin, err, out)
			}
			if !strings.Contains(string(out), "target     "+tc.want+"\n") ||
				!strings.Contains(string(out), "GOARCH     "+tc.want+"\n") {
				t.Errorf("under %s, bootstrap arch printed:\n%s", tc.qemu, out)
			}
			t.Logf("%s", out)
		})
	}
}
