package plan_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

const base = `name: sig
vars:
  go_version: 1.19.8
  prefix: ${{ work }}/install
env:
  PATH: ${{ prefix }}/bin:/usr/bin:/bin
components:
  - name: boot
    steps:
      - name: link
        run: ln -sf /usr/bin/go-12 ${{ build }}/go
  - name: go
    needs: [boot]
    source:
      url: https://dl.google.com/go/go${{ go_version }}.src.tar.gz
      sha256: 1d7a67929dccafeaf8a29e55985bc2b789e0499cb1a17100039f084e3238da2f
      strip: 1
    patches:
      - file: fix.patch
    env:
      GOROOT_BOOTSTRAP: ${{ components.boot.build }}
    steps:
      - name: make
        dir: ${{ src }}/src
        run: ./make.bash -j${{ jobs }}
      - name: install
        run: cp -a ${{ src }} ${{ prefix }}/go
`

// compile writes the recipe (and a patch) to a temp dir and compiles it.
func compile(t *testing.T, text string, jobs int) *plan.Plan {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fix.patch"), []byte("--- a/x\n+++ b/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := recipe.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Compile(r, plan.Options{WorkDir: "/work", Host: testHost(t), Jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sigs(p *plan.Plan) map[string]string {
	m := map[string]string{}
	for _, s := range p.Steps {
		m[s.ID] = s.Signature
	}
	return m
}

func TestGraph(t *testing.T) {
	p := compile(t, base, 1)
	var got []string
	for _, s := range p.Steps {
		got = append(got, s.ID+"<"+strings.Join(s.Deps, ","))
	}
	want := []string{"boot:link<", "go:fetch<", "go:patch<go:fetch", "go:make<go:patch,boot:link", "go:install<go:make"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("steps and deps:\n got %v\nwant %v", got, want)
	}
	mk := p.Step("go:make")
	if mk.Dir != "/work/src/go/src" || mk.Script != "./make.bash -j1" {
		t.Errorf("go:make dir %q script %q", mk.Dir, mk.Script)
	}
	if !contains(mk.Env, "GOROOT_BOOTSTRAP=/work/build/boot") || !contains(mk.Env, "PATH=/work/install/bin:/usr/bin:/bin") || !contains(mk.Env, "TZ=UTC") {
		t.Errorf("go:make env %v", mk.Env)
	}
	if src := p.Step("go:fetch").Sources[0]; src.URLs[0] != "https://dl.google.com/go/go1.19.8.src.tar.gz" || src.Filename != "go1.19.8.src.tar.gz" {
		t.Errorf("source %+v", src)
	}
}

// TestSignatures changes one input at a time and checks exactly which steps
// get a new signature.
func TestSignatures(t *testing.T) {
	ref := sigs(compile(t, base, 1))
	all := []string{"boot:link", "go:fetch", "go:patch", "go:make", "go:install"}
	tests := []struct {
		name    string
		from    string
		to      string
		changed []string
	}{
		{"command of the last step", "cp -a ${{ src }}", "cp -a -v ${{ src }}", []string{"go:install"}},
		{"command of an upstream step", "ln -sf", "ln -s", []string{"boot:link", "go:make", "go:install"}},
		{"component env", "GOROOT_BOOTSTRAP: ${{ components.boot.build }}", "GOROOT_BOOTSTRAP: /opt/go", []string{"go:make", "go:install"}},
		{"recipe env", "PATH: ${{ prefix }}/bin:/usr/bin:/bin", "PATH: /usr/bin:/bin", []string{"boot:link", "go:make", "go:install"}},
		{"source checksum", "sha256: 1d7a", "sha256: 2d7a", []string{"go:fetch", "go:patch", "go:make", "go:install"}},
		{"strip", "strip: 1", "strip: 0", []string{"go:patch", "go:make", "go:install"}},
		{"dir", "dir: ${{ src }}/src", "dir: ${{ src }}", []string{"go:make", "go:install"}},
		{"a moved URL rebuilds nothing", "https://dl.google.com/go/", "https://mirror.example/go/", nil},
		{"a var used everywhere", "go_version: 1.19.8", "go_version: 1.19.9", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.from) {
				t.Fatalf("base recipe has no %q", tt.from)
			}
			got := sigs(compile(t, strings.Replace(base, tt.from, tt.to, 1), 1))
			var changed []string
			for _, id := range all {
				if got[id] != ref[id] {
					changed = append(changed, id)
				}
			}
			if !reflect.DeepEqual(changed, tt.changed) {
				t.Errorf("changed steps: got %v, want %v", changed, tt.changed)
			}
		})
	}
}

func TestJobsDoesNotChangeSignatures(t *testing.T) {
	a, b := compile(t, base, 1), compile(t, base, 16)
	if !reflect.DeepEqual(sigs(a), sigs(b)) {
		t.Error("changing -j changed signatures")
	}
	if b.Step("go:make").Script != "./make.bash -j16" {
		t.Errorf("jobs not expanded: %q", b.Step("go:make").Script)
	}
}

func TestPatchContentChangesSignature(t *testing.T) {
	p1 := compile(t, base, 1)
	dir := filepath.Dir(p1.Recipe.File)
	if err := os.WriteFile(filepath.Join(dir, "fix.patch"), []byte("--- a/y\n+++ b/y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p2, err := plan.Compile(p1.Recipe, plan.Options{WorkDir: "/work", Host: testHost(t), Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p1.Step("go:fetch").Signature != p2.Step("go:fetch").Signature {
		t.Error("a patch changed the fetch step")
	}
	if p1.Step("go:patch").Signature == p2.Step("go:patch").Signature {
		t.Error("a changed patch did not change the patch step")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestHostPackages(t *testing.T) {
	r, err := recipe.Parse("r.yaml", []byte(`name: r
host:
  packages: [gccgo-12, "runc:${{ host.debarch }}", "gcc-${{ target.triplet }}"]
components:
  - name: c
    steps:
      - name: s
        run: "true"
`))
	if err != nil {
		t.Fatal(err)
	}
	amd64, _ := arch.Lookup("amd64")
	ppc, _ := arch.Lookup("ppc64le")
	pkgs, err := plan.HostPackages(r, arch.Host{Target: amd64}, ppc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Value)
	}
	if want := "gccgo-12 runc:amd64 gcc-powerpc64le-linux-gnu"; strings.Join(got, " ") != want {
		t.Errorf("packages %q, want %q", strings.Join(got, " "), want)
	}
	r.Host.Packages[0].Value = "${{ work }}"
	if _, err := plan.HostPackages(r, arch.Host{Target: amd64}, ppc); err == nil || !strings.Contains(err.Error(), "only use ${{ host.* }} and ${{ target.* }}") {
		t.Errorf("a work reference in host.packages: %v", err)
	}
}

// TestTargetEnv checks that target_env: reaches only the target it names:
// the other targets' steps keep their signatures, so adding a workaround
// for one target rebuilds nothing for the others.
func TestTargetEnv(t *testing.T) {
	with := strings.Replace(base, "name: sig\n", "name: sig\ntargets: [amd64, 386]\n", 1)
	without := with
	with = strings.Replace(with, "    steps:\n      - name: make", `    target_env:
      i386:
        GO19CONCURRENTCOMPILATION: "0"
    steps:
      - name: make`, 1)
	if with == without {
		t.Fatal("the test recipe did not change")
	}
	compileFor := func(text, target string) *plan.Plan {
		t.Helper()
		dir := t.TempDir()
		path := filepath.Join(dir, "r.yaml")
		for name, data := range map[string]string{"r.yaml": text, "fix.patch": "--- a/x\n+++ b/x\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r, err := recipe.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Compile(r, plan.Options{WorkDir: "/work", Host: testHost(t), Target: target, Jobs: 1})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if a, b := sigs(compileFor(without, "amd64")), sigs(compileFor(with, "amd64")); !reflect.DeepEqual(a, b) {
		t.Errorf("target_env for 386 changed amd64 signatures:\n%v\n%v", a, b)
	}
	p386, ref386 := compileFor(with, "386"), compileFor(without, "386")
	if !contains(p386.Step("go:make").Env, "GO19CONCURRENTCOMPILATION=0") {
		t.Errorf("386 go:make env lacks the target's variable: %v", p386.Step("go:make").Env)
	}
	if contains(p386.Step("boot:link").Env, "GO19CONCURRENTCOMPILATION=0") {
		t.Error("the variable leaked into another component")
	}
	if p386.Step("go:make").Signature == ref386.Step("go:make").Signature {
		t.Error("target_env did not change the 386 signature of go:make")
	}
	if p386.Step("boot:link").Signature != ref386.Step("boot:link").Signature {
		t.Error("target_env changed a step of another component")
	}
}
