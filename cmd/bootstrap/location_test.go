package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// whereRecipe is a chain of three components whose results name where
// they were built: lib writes ${{ work }}, ${{ prefix }}, its build dir,
// $PWD, $HOME and $TMPDIR into an output and compiles an object with
// debug information (gcc records the compilation directory); prog links
// it into a program that has its build dir compiled in (and, through
// -g, its source path) and prints it; report runs in lib's build dir
// (dir:) and writes what prog prints and where it ran, then runs prog
// again from a privileged step.
const whereRecipe = `name: where
vars:
  prefix: ${{ work }}/install
env:
  PATH: /usr/bin:/bin
components:
  - name: lib
    source:
      dir: lib
    tools: [gcc]
    steps:
      - name: build
        run: |
          gcc -g -O1 -c ${{ src }}/greet.c -o greet.o
          mkdir -p ${{ prefix }}/lib
          cp greet.o ${{ prefix }}/lib/
          printf '%s\n' ${{ work }} ${{ prefix }} ${{ build }} "$PWD" "$HOME" "$TMPDIR" > ${{ prefix }}/lib/paths.txt
    outputs: ["${{ prefix }}/lib"]
  - name: prog
    needs: [lib]
    source:
      dir: prog
    tools: [gcc]
    steps:
      - name: build
        run: |
          mkdir -p ${{ prefix }}/bin ${{ prefix }}/share
          gcc -g -O1 "-DWHERE=\"$PWD\"" -o ${{ prefix }}/bin/prog ${{ src }}/main.c ${{ components.lib.build }}/greet.o
          ${{ prefix }}/bin/prog > ${{ prefix }}/share/prog.out
    outputs: ["${{ prefix }}/bin", "${{ prefix }}/share"]
  - name: report
    needs: [prog]
    steps:
      - name: write
        dir: ${{ components.lib.build }}
        run: |
          { ${{ prefix }}/bin/prog; pwd; cat ${{ prefix }}/lib/paths.txt; } > ${{ components.report.build }}/report.txt
      # As the Docker recipes' smoke test runs ${{ prefix }}/bin/dockerd.
      - name: smoke
        privileged: true
        reason: stands for a daemon that needs real root
        run: ${{ prefix }}/bin/prog > ${{ build }}/smoke.txt
    outputs: ["${{ build }}/report.txt", "${{ build }}/smoke.txt"]
`

// whereFixture writes the recipe and its two source trees into dir.
func whereFixture(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"where.yaml":  whereRecipe,
		"lib/greet.c": "#include <stdio.h>\nvoid greet(const char *where) { printf(\"built in %s, file %s\\n\", where, __FILE__); }\n",
		"prog/main.c": "void greet(const char *);\nint main(void) { greet(WHERE); return 0; }\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// signatures runs `plan --json` (with extra flags) and returns each
// step's signature, all of them set.
func signatures(t *testing.T, dir, work string, extra ...string) map[string]string {
	t.Helper()
	r := bs(t, dir, append([]string{"plan", "--json", "--workdir", work, "where.yaml"}, extra...)...)
	if r.code != 0 {
		t.Fatalf("plan --json %v: exit %d\n%s", extra, r.code, r.stderr)
	}
	var doc planDoc
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("plan --json does not decode: %v\n%s", err, r.stdout)
	}
	sigs := map[string]string{}
	for _, s := range doc.Steps {
		if len(s.Signature) != 64 {
			t.Fatalf("step %s: signature %q", s.ID, s.Signature)
		}
		sigs[s.ID] = s.Signature
	}
	return sigs
}

// fileTree maps every file and symlink below root (relative path) to its
// mode and content (a symlink's target).
func fileTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var data []byte
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			data = []byte(target)
			if err != nil {
				return err
			}
		} else if data, err = os.ReadFile(p); err != nil {
			return err
		}
		out[rel] = fi.Mode().String() + "\n" + string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// envelopePayload is the statement a signed record (a DSSE envelope
// file) carries, as bytes.
func envelopePayload(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ Payload string }
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// subjectNames are the subjects the run's signed record names.
func subjectNames(t *testing.T, work string) []string {
	t.Helper()
	payload := envelopePayload(t, filepath.Join(work, "provenance.json"))
	var st struct{ Subject []struct{ Name, URI string } }
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range st.Subject {
		if !strings.HasPrefix(s.URI, "file://"+work+"/") {
			t.Errorf("subject %s: URI %s is not where it is (below %s)", s.Name, s.URI, work)
		}
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

// TestLocationIndependent: the same recipe in two checkouts at different
// paths, with work dirs at different paths and depths and a cache each,
// plans the same signature for every step, before and after running,
// and builds byte-identical outputs, although every one of them names
// where it was built (gcc's debug information and the programs' own
// strings included): steps see the work dir at the sandbox's fixed path.
// Under --no-sandbox the paths are the real ones, and so every run
// step's signature differs between the two, and from the sandboxed one.
func TestLocationIndependent(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "x", "y", "b")
	type machine struct{ dir, work string }
	ms := []machine{{a, filepath.Join(a, "w")}, {b, filepath.Join(b, "deep", "er", "work2")}}
	for _, m := range ms {
		whereFixture(t, m.dir)
	}
	before := [2]map[string]string{signatures(t, a, ms[0].work), signatures(t, b, ms[1].work)}
	if len(before[0]) != 8 || !equalMaps(before[0], before[1]) {
		t.Fatalf("signatures before running differ:\n%v\n%v", before[0], before[1])
	}
	for _, m := range ms {
		if r := bs(t, m.dir, "run", "--workdir", m.work, "where.yaml"); r.code != 0 {
			t.Fatalf("run in %s: exit %d\n%s%s", m.work, r.code, r.stdout, r.stderr)
		}
	}
	after := [2]map[string]string{signatures(t, a, ms[0].work), signatures(t, b, ms[1].work)}
	if !equalMaps(after[0], before[0]) || !equalMaps(after[1], before[1]) {
		t.Errorf("signatures changed by running:\n%v\n%v", before[0], after[0])
	}

	// Every output, byte for byte, and the names the records give them.
	trees := [2]map[string]string{}
	for i, m := range ms {
		trees[i] = fileTree(t, filepath.Join(m.work, "install"))
		for _, f := range []string{"report.txt", "smoke.txt"} {
			trees[i][f] = fileTree(t, filepath.Join(m.work, "build", "report"))[f]
		}
	}
	if len(trees[0]) != 6 {
		t.Fatalf("outputs: %d files, want 6: %v", len(trees[0]), keys(trees[0]))
	}
	for name, content := range trees[0] {
		if trees[1][name] != content {
			t.Errorf("output %s differs between the two work dirs", name)
		}
	}
	paths := "/mnt/bootstrap\n/mnt/bootstrap/install\n/mnt/bootstrap/build/lib\n/mnt/bootstrap/build/lib\n/mnt/bootstrap/home\n/mnt/bootstrap/tmp\n"
	if got := strings.SplitN(trees[0]["lib/paths.txt"], "\n", 2)[1]; got != paths {
		t.Errorf("paths.txt = %q, want %q", got, paths)
	}
	report := "built in /mnt/bootstrap/build/prog, file /mnt/bootstrap/src/lib/greet.c\n/mnt/bootstrap/build/lib\n" + paths
	if got := strings.SplitN(trees[0]["report.txt"], "\n", 2)[1]; got != report {
		t.Errorf("report.txt = %q, want %q", got, report)
	}
	if got, want := trees[0]["smoke.txt"], "-rw-r--r--\n"+strings.SplitN(report, "\n", 2)[0]+"\n"; got != want {
		t.Errorf("the privileged step's smoke.txt = %q, want %q", got, want)
	}
	for _, m := range ms {
		if bytes.Contains([]byte(trees[0]["lib/greet.o"]), []byte(m.work)) || !bytes.Contains([]byte(trees[0]["lib/greet.o"]), []byte("/mnt/bootstrap/build/lib")) {
			t.Errorf("greet.o's debug information does not name the fixed build dir alone")
		}
	}
	if na, nb := subjectNames(t, ms[0].work), subjectNames(t, ms[1].work); len(na) != 5 || strings.Join(na, " ") != strings.Join(nb, " ") || !strings.HasPrefix(na[0], "/mnt/bootstrap/") {
		t.Errorf("record subjects %v and %v, want the same 5 below /mnt/bootstrap", na, nb)
	}

	// --no-sandbox: real paths, so signatures of their own.
	open := [2]map[string]string{signatures(t, a, ms[0].work, "--no-sandbox"), signatures(t, b, ms[1].work, "--no-sandbox")}
	for id, sig := range open[0] {
		run := !strings.HasSuffix(id, ":fetch") && !strings.HasSuffix(id, ":patch")
		switch {
		case run && (sig == open[1][id] || sig == before[0][id]):
			t.Errorf("%s: --no-sandbox signature %s equals the other work dir's (%v) or the sandboxed one (%v)", id, sig[:12], sig == open[1][id], sig == before[0][id])
		case !run && (sig != open[1][id] || sig != before[0][id]):
			t.Errorf("%s: bootstrap's own step changed signature with the work dir or --no-sandbox", id)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// emulatedWhere runs in a root file system of another architecture: a
// confined step and a privileged one (which gets the tree unconfined)
// write where they see the work dir, and the tree's own busybox.
const emulatedWhere = `name: where-emulated
targets: [arm64]
components:
  - name: a
    source:
      dir: srcdir
    steps:
      - name: where
        run: |
          echo ${{ work }} ${{ src }} "$PWD" > where.txt
          ls ${{ src }} >> where.txt
          cp /bin/busybox bb
      - name: privileged
        privileged: true
        reason: the chroot as before the sandbox
        run: cat ${{ build }}/where.txt > ${{ components.a.build }}/again.txt
    outputs: [where.txt, again.txt, bb]
`

// TestLocationIndependentEmulated: under --emulate the root file system
// shows the work dir at the same fixed path, to confined and privileged
// steps alike: two work dirs at different paths plan the same
// signatures and build the same bytes.
func TestLocationIndependentEmulated(t *testing.T) {
	root := testRootfs(t, "arm64")
	var sigs []map[string]string
	var outs []map[string]string
	for i, work := range []string{"w", "one/two/three/w"} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "srcdir"), 0o755)
		os.WriteFile(filepath.Join(dir, "srcdir", "hello.txt"), []byte("hello\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "where.yaml"), []byte(emulatedWhere), 0o644)
		work = filepath.Join(dir, work)
		args := []string{"--emulate", "--rootfs", root, "--target", "arm64"}
		if r := bs(t, dir, append([]string{"run", "--plain", "--workdir", work, "where.yaml"}, args...)...); r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s%s", i, r.code, r.stdout, r.stderr)
		}
		sigs = append(sigs, signatures(t, dir, work, args...))
		outs = append(outs, fileTree(t, filepath.Join(work, "build", "a")))
		if m := leakedMounts(t, dir); len(m) > 0 {
			t.Errorf("mounts left on the host: %v", m)
		}
	}
	if len(sigs[0]) != 4 || !equalMaps(sigs[0], sigs[1]) {
		t.Errorf("signatures differ:\n%v\n%v", sigs[0], sigs[1])
	}
	want := "-rw-r--r--\n/mnt/bootstrap /mnt/bootstrap/src/a /mnt/bootstrap/build/a\nhello.txt\n"
	if outs[0]["where.txt"] != want || outs[0]["again.txt"] != want {
		t.Errorf("where.txt %q, again.txt %q, want %q", outs[0]["where.txt"], outs[0]["again.txt"], want)
	}
	if len(outs[0]) != 3 || !equalMaps(outs[0], outs[1]) {
		t.Errorf("outputs differ or are missing: %v, %v", keys(outs[0]), keys(outs[1]))
	}
}
