package doctor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// fakeBinfmt lays out a binfmt_misc directory with one handler whose
// interpreter is a real program printing the given qemu version.
func fakeBinfmt(t *testing.T, name, flags, state, version string) string {
	t.Helper()
	dir := t.TempDir()
	bm := filepath.Join(dir, "binfmt_misc")
	os.MkdirAll(bm, 0o755)
	os.WriteFile(filepath.Join(bm, "status"), []byte("enabled\n"), 0o644)
	interp := filepath.Join(dir, "qemu-"+name)
	script := "#!/bin/sh\necho 'qemu-" + name + " version " + version + " (Debian)'\n"
	if err := os.WriteFile(interp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// Debian's handlers point at a *-binfmt-P link to the qemu binary.
	link := filepath.Join(dir, name+"-binfmt-P")
	os.Symlink(interp, link)
	if state != "" {
		entry := state + "\ninterpreter " + link + "\nflags: " + flags + "\noffset 0\nmagic 7f454c46\n"
		os.WriteFile(filepath.Join(bm, "qemu-"+name), []byte(entry), 0o644)
	}
	return bm
}

func TestEmulationChecks(t *testing.T) {
	r := &recipe.Recipe{Targets: []recipe.Str{str("amd64"), str("ppc64le")}, Host: recipe.Host{Packages: []recipe.Str{str("gccgo-12")}}}
	for _, tt := range []struct {
		name                  string
		flags, state, version string
		unmounted             bool
		ok                    bool
		want                  string
	}{
		{name: "registered with F, qemu 10", flags: "POF", state: "enabled", version: "10.0.2", ok: true,
			want: "ok       emulate  qemu ppc64le: qemu 10.0.2"},
		{name: "no F flag", flags: "OC", state: "enabled", version: "10.0.2",
			want: "qemu-ppc64le is registered without the F flag"},
		{name: "qemu 7.2", flags: "F", state: "enabled", version: "7.2.0",
			want: "qemu 7.2.0 breaks os/exec in Go programs (golang/go#68976"},
		{name: "qemu 8.0", flags: "F", state: "enabled", version: "8.0.0", ok: true, want: "qemu 8.0.0"},
		{name: "disabled", flags: "F", state: "disabled", version: "10.0.2", want: "registered but disabled"},
		{name: "not registered", version: "10.0.2", want: "no binfmt_misc handler qemu-ppc64le is registered"},
		{name: "not mounted", unmounted: true, want: "binfmt_misc is not mounted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bm := fakeBinfmt(t, "ppc64le", tt.flags, tt.state, tt.version)
			if tt.unmounted {
				os.Remove(filepath.Join(bm, "status"))
			}
			rep, out := run(t, r, Options{Target: "ppc64le", Emulate: true, BinfmtDir: bm, WorkDir: t.TempDir()})
			if rep.OK() != tt.ok || !strings.Contains(out, tt.want) {
				t.Errorf("OK=%v (want %v), want %q in:\n%s", rep.OK(), tt.ok, tt.want, out)
			}
			if strings.Contains(out, "gccgo-12") {
				t.Errorf("an emulated run's packages are the root file system's, not the host's:\n%s", out)
			}
			if !tt.ok && !tt.unmounted && tt.state == "" && !strings.Contains(out, "doctor --install --emulate") {
				t.Errorf("the message does not say how to fix it:\n%s", out)
			}
		})
	}
	// 386 on an x86_64 kernel needs no emulator.
	rep, out := run(t, &recipe.Recipe{}, Options{Target: "386", Emulate: true, BinfmtDir: t.TempDir(), WorkDir: t.TempDir()})
	if !rep.OK() || !strings.Contains(out, "runs 386 programs itself") {
		t.Errorf("386 on amd64:\n%s", out)
	}
}

func TestRegisterHandlerAddsF(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	os.MkdirAll(conf, 0o755)
	os.WriteFile(filepath.Join(conf, "qemu-aarch64.conf"), []byte(`:qemu-aarch64:M::\x7fELF\x02:\xff\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OP`+"\n"), 0o644)
	bm := filepath.Join(dir, "bm")
	os.MkdirAll(bm, 0o755)
	os.WriteFile(filepath.Join(bm, "qemu-aarch64"), []byte("enabled\n"), 0o644) // an old registration
	var out bytes.Buffer
	tg := *hostOf(t, "arm64")
	if err := registerHandler(tg.Target, bm, conf, &out); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(filepath.Join(bm, "qemu-aarch64"))
	reg, _ := os.ReadFile(filepath.Join(bm, "register"))
	if string(old) != "-1" || !strings.HasSuffix(string(reg), ":OPF") {
		t.Errorf("old registration got %q (want -1), register got %q (want flags OPF)", old, reg)
	}
}

// TestSourceClients: the svn and hg clients bootstrap runs to fetch a
// recipe's sources are checked on the host, natively (unless host.packages
// lists them already) and under --emulate, where host.packages go into the
// root file system instead.
func TestSourceClients(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("not a Debian system: no dpkg-query")
	}
	at := func(line int) recipe.Pos { return recipe.Pos{File: "r.yaml", Line: line, Col: 7} }
	r := &recipe.Recipe{
		Targets: []recipe.Str{str("amd64"), str("ppc64le")},
		Host:    recipe.Host{Packages: []recipe.Str{str("subversion")}},
		Components: []*recipe.Component{
			{Sources: []*recipe.Source{{SVN: recipe.Str{Value: "svn://gcc/trunk", Pos: at(10)}}}},
			{Sources: []*recipe.Source{{Git: recipe.Str{Value: "https://go/go", Pos: at(20)}}, {HG: recipe.Str{Value: "https://hg/x", Pos: at(21)}}}},
			{Sources: []*recipe.Source{{SVN: recipe.Str{Value: "svn://other", Pos: at(30)}}}},
		},
	}
	installed := func(pkg string) bool {
		out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", pkg).Output()
		return err == nil && strings.HasPrefix(string(out), "ii")
	}
	for _, tt := range []struct {
		name string
		opts Options
		want map[string]recipe.Pos // package → where it is asked for
	}{
		{"native", Options{}, map[string]recipe.Pos{"subversion": str("").Pos, "mercurial": at(21)}},
		{"emulated", Options{Target: "ppc64le", Emulate: true, BinfmtDir: fakeBinfmt(t, "ppc64le", "F", "enabled", "10.0.2")},
			map[string]recipe.Pos{"subversion": at(10), "mercurial": at(21)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.WorkDir = t.TempDir()
			rep, out := run(t, r, tt.opts)
			got := map[string]recipe.Pos{}
			for _, c := range rep.Results {
				if c.Kind != "package" || (c.Name != "subversion" && c.Name != "mercurial") {
					continue
				}
				if _, twice := got[c.Name]; twice {
					t.Errorf("%s checked twice:\n%s", c.Name, out)
				}
				got[c.Name] = c.Pos
				if (c.Status == OK) != installed(c.Name) {
					t.Errorf("%s: status %v, but dpkg says installed=%v", c.Name, c.Status, installed(c.Name))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("source clients checked at %v, want %v:\n%s", got, tt.want, out)
			}
		})
	}
}
