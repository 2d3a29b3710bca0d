package doctor

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

func str(s string) recipe.Str {
	return recipe.Str{Value: s, Pos: recipe.Pos{File: "r.yaml", Line: 3, Col: 5}}
}

func tool(name, version string) recipe.Tool {
	return recipe.Tool{Name: str(name), Version: str(version)}
}

// hostOf is a detected-looking host for the arch check, so the tests do
// not depend on the machine they run on for it.
func hostOf(t *testing.T, name string) *arch.Host {
	tg, ok := arch.Lookup(name)
	if !ok {
		t.Fatalf("no target %s", name)
	}
	return &arch.Host{Target: tg, UnameM: tg.UnameM[0], Kernel: tg.UnameM[0], KernelBits: tg.Bits}
}

func run(t *testing.T, r *recipe.Recipe, opts Options) (*Report, string) {
	t.Helper()
	if opts.Host == nil {
		opts.Host = hostOf(t, "amd64")
	}
	rep, err := Check(context.Background(), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	return rep, out.String()
}

func TestMissingToolAndPackage(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("not a Debian system: no dpkg-query")
	}
	r := &recipe.Recipe{Host: recipe.Host{
		Tools:    []recipe.Tool{tool("sh", ""), tool("bootstrap-no-such-tool", "")},
		Packages: []recipe.Str{str("dpkg"), str("bootstrap-no-such-package"), str("a-missing-one")},
	}}
	rep, out := run(t, r, Options{Env: []string{"PATH=/usr/bin:/bin"}})
	for _, line := range []string{
		"ok       arch     amd64: amd64 (x86_64)\n",
		"MISSING  tool     bootstrap-no-such-tool: not on PATH\n",
		"MISSING  package  bootstrap-no-such-package: not installed\n",
		"MISSING  package  a-missing-one: not installed\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("report lacks %q:\n%s", line, out)
		}
	}
	if !strings.Contains(out, "ok       tool     sh: /usr/bin/sh\n") && !strings.Contains(out, "ok       tool     sh: /bin/sh\n") {
		t.Errorf("sh not found:\n%s", out)
	}
	if !strings.Contains(out, "ok       package  dpkg: ") {
		t.Errorf("dpkg not installed?\n%s", out)
	}
	if got := strings.Join(rep.MissingPackages(), " "); got != "a-missing-one bootstrap-no-such-package" {
		t.Errorf("MissingPackages = %s", got)
	}
	if rep.OK() || len(rep.Failed()) != 3 {
		t.Errorf("OK() = %v, %d failed", rep.OK(), len(rep.Failed()))
	}
}

func TestToolVersionConstraints(t *testing.T) {
	for _, name := range []string{"gcc", "git"} {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s not installed", name)
		}
	}
	r := &recipe.Recipe{Host: recipe.Host{Tools: []recipe.Tool{
		tool("gcc", ">= 4.9"),
		tool("gcc", ">= 99"),
		tool("git", ">= 2.0, < 100"),
		tool("git", "< 2"),
		tool("git", "~> banana"),
	}}}
	rep, out := run(t, r, Options{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}})
	want := []Status{OK, Missing, OK, Missing, Missing}
	for i, w := range want {
		if got := rep.Results[i+1]; got.Status != w {
			t.Errorf("%s %s: %s (%s); want %s", got.Name, r.Host.Tools[i].Version.Value, got.Status, got.Detail, w)
		}
	}
	if !strings.Contains(out, ", want >= 99\n") || !strings.Contains(out, "bad version constraint") {
		t.Errorf("report:\n%s", out)
	}
	t.Logf("\n%s", out)
}

func TestDiskMemoryKernelBinfmt(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("CONFIG_OVERLAY_FS=m\n# CONFIG_BTRFS_FS is not set\nCONFIG_HZ=250\n"))
	zw.Close()
	if err := os.WriteFile(cfg, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	binfmt := filepath.Join(dir, "binfmt_misc")
	os.MkdirAll(binfmt, 0o755)
	os.WriteFile(filepath.Join(binfmt, "status"), []byte("enabled\n"), 0o644)
	os.WriteFile(filepath.Join(binfmt, "qemu-ppc64le"), []byte("enabled\ninterpreter /usr/libexec/qemu-binfmt/ppc64le-binfmt-P\nflags: POCF\n"), 0o644)
	os.WriteFile(filepath.Join(binfmt, "qemu-arm"), []byte("disabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\n"), 0o644)

	r := &recipe.Recipe{Host: recipe.Host{
		Disk:   str("1K"),
		Memory: str("1M"),
		Kernel: []recipe.Str{str("CONFIG_OVERLAY_FS"), str("BTRFS_FS"), str("CONFIG_HZ=1000")},
		Binfmt: []recipe.Str{str("qemu-ppc64le"), str("armhf"), str("riscv64")},
	}}
	rep, out := run(t, r, Options{WorkDir: filepath.Join(dir, "not", "yet"), KernelConfig: cfg, BinfmtDir: binfmt})
	want := []Status{OK, OK, OK, OK, Missing, Missing, OK, Missing, Missing}
	for i, w := range want {
		if rep.Results[i].Status != w {
			t.Errorf("%s %s: %s (%s); want %s", rep.Results[i].Kind, rep.Results[i].Name, rep.Results[i].Status, rep.Results[i].Detail, w)
		}
	}
	for _, s := range []string{"free at " + dir + "\n", "CONFIG_HZ=250 in ", "qemu-arm is registered but disabled", "no handler qemu-riscv64 registered"} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}

	r.Host = recipe.Host{Disk: str("1000T"), Memory: str("64T"), Kernel: []recipe.Str{str("CONFIG_OVERLAY_FS")}, Binfmt: []recipe.Str{str("qemu-arm")}}
	rep, out = run(t, r, Options{KernelConfig: filepath.Join(dir, "absent"), BinfmtDir: filepath.Join(dir, "nothing")})
	want = []Status{OK, Missing, Missing, Unknown, Unknown}
	for i, w := range want {
		if rep.Results[i].Status != w {
			t.Errorf("%s %s: %s (%s); want %s", rep.Results[i].Kind, rep.Results[i].Name, rep.Results[i].Status, rep.Results[i].Detail, w)
		}
	}
	if !strings.Contains(out, "unknown  binfmt   qemu-arm: binfmt_misc is not mounted") {
		t.Errorf("report:\n%s", out)
	}
}

func TestArchCheck(t *testing.T) {
	r := &recipe.Recipe{Targets: []recipe.Str{str("amd64"), str("ppc64le")}}
	rep, out := run(t, r, Options{Host: hostOf(t, "arm64")})
	if rep.OK() || !strings.Contains(out, "this host is arm64 (aarch64), not one of the recipe's targets [amd64 ppc64le]; for amd64, run on an amd64 machine, or here with --emulate") {
		t.Errorf("arm64 host, amd64/ppc64le recipe:\n%s", out)
	}
	rep, out = run(t, r, Options{Host: hostOf(t, "arm64"), Target: "armhf"})
	if rep.OK() || !strings.Contains(out, "cannot build armhf natively") {
		t.Errorf("--target armhf on arm64:\n%s", out)
	}
	rep, _ = run(t, &recipe.Recipe{Targets: []recipe.Str{str("arm")}}, Options{Host: hostOf(t, "armhf")})
	if !rep.OK() {
		t.Errorf("armhf host, recipe target arm: %+v", rep.Results)
	}
}

func TestInstallRefusesOptions(t *testing.T) {
	if err := Install(context.Background(), []string{"-oAPT::Get::Foo=1"}, nil); err == nil || !strings.Contains(err.Error(), "not a Debian package name") {
		t.Errorf("Install(-o…) = %v", err)
	}
}

// TestE2EInstall installs a small real package: BOOTSTRAP_E2E=1, as root.
func TestE2EInstall(t *testing.T) {
	if os.Getenv("BOOTSTRAP_E2E") != "1" || os.Geteuid() != 0 {
		t.Skip("needs BOOTSTRAP_E2E=1 and root")
	}
	const pkg = "sl"
	ctx := context.Background()
	if out, err := exec.Command("dpkg-query", "-W", pkg).CombinedOutput(); err == nil {
		t.Skipf("%s is already installed: %s", pkg, out)
	}
	t.Cleanup(func() {
		out, err := exec.Command("apt-get", "purge", "-y", pkg).CombinedOutput()
		if err != nil {
			t.Errorf("purge %s: %v\n%s", pkg, err, out)
		}
	})
	r := &recipe.Recipe{Host: recipe.Host{Packages: []recipe.Str{str(pkg)}}}
	rep, out := run(t, r, Options{})
	if got := rep.MissingPackages(); len(got) != 1 || got[0] != pkg {
		t.Fatalf("before install, missing %v:\n%s", got, out)
	}
	var log bytes.Buffer
	if err := Install(ctx, rep.MissingPackages(), &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	rep, out = run(t, r, Options{})
	if !rep.OK() || !strings.Contains(out, "ok       package  sl: ") {
		t.Errorf("after install:\n%s", out)
	}
}

// TestOptional: a missing dot is absent (not MISSING: the report stays
// OK) and says what needs it and how to install it.
func TestOptional(t *testing.T) {
	for _, tc := range []struct {
		found bool
		want  Status
	}{{true, OK}, {false, Absent}} {
		look := func(name string) (string, error) {
			if tc.found {
				return "/usr/bin/" + name, nil
			}
			return "", exec.ErrNotFound
		}
		res := Optional(look)
		rep := &Report{Results: res}
		if len(res) != 1 || res[0].Status != tc.want || !rep.OK() {
			t.Errorf("found %v: %+v, report OK %v", tc.found, res, rep.OK())
		}
		if !tc.found && !strings.Contains(res[0].Detail, "apt-get install graphviz") {
			t.Errorf("absent dot does not say how to install it: %q", res[0].Detail)
		}
	}
}
