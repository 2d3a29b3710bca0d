package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const doctorRecipe = `name: doctor-test
host:
  tools: [sh, bootstrap-no-such-tool]
  packages: [bootstrap-no-such-package]
  disk: 1K
components:
  - name: a
    steps:
      - name: b
        run: "true"
`

func TestDoctorCommand(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("not a Debian system")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "doctor.yaml")
	if err := os.WriteFile(path, []byte(doctorRecipe), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := runDoctor(context.Background(), doctorOptions{WorkDir: dir}, &out, path)
	if !errors.Is(err, errChecksFailed) || !strings.Contains(err.Error(), "apt-get install -y bootstrap-no-such-package") {
		t.Errorf("runDoctor = %v", err)
	}
	for _, line := range []string{
		"MISSING  tool     bootstrap-no-such-tool: not on PATH\n",
		"MISSING  package  bootstrap-no-such-package: not installed\n",
		"free at " + dir + "\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}

	app := newApp()
	app.Writer = &bytes.Buffer{}
	err = app.RunContext(context.Background(), []string{"bootstrap", "doctor", "--workdir", dir, path})
	if code := exitCode(err); code != 2 {
		t.Errorf("bootstrap doctor exit %d (%v); want 2", code, err)
	}
}

// TestDoctorInstallE2E runs `doctor --install` for a small real package:
// BOOTSTRAP_E2E=1, as root. It purges the package afterwards.
func TestDoctorInstallE2E(t *testing.T) {
	if os.Getenv("BOOTSTRAP_E2E") != "1" || os.Geteuid() != 0 {
		t.Skip("needs BOOTSTRAP_E2E=1 and root")
	}
	if exec.Command("dpkg-query", "-W", "sl").Run() == nil {
		t.Skip("sl is already installed")
	}
	t.Cleanup(func() {
		if out, err := exec.Command("apt-get", "purge", "-y", "sl").CombinedOutput(); err != nil {
			t.Errorf("purge sl: %v\n%s", err, out)
		}
	})
	dir := t.TempDir()
	path := filepath.Join(dir, "sl.yaml")
	body := strings.Replace(doctorRecipe, "  tools: [sh, bootstrap-no-such-tool]\n  packages: [bootstrap-no-such-package]\n", "  packages: [sl]\n", 1)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runDoctor(context.Background(), doctorOptions{WorkDir: dir}, &out, path); !errors.Is(err, errChecksFailed) || !strings.Contains(out.String(), "MISSING  package  sl: not installed") {
		t.Fatalf("before: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := runDoctor(context.Background(), doctorOptions{WorkDir: dir, Install: true}, &out, path); err != nil {
		t.Fatalf("--install: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := runDoctor(context.Background(), doctorOptions{WorkDir: dir}, &out, path); err != nil || !strings.Contains(out.String(), "ok       package  sl: ") {
		t.Errorf("after: %v\n%s", err, out.String())
	}
}
