package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/buildcache"
	"github.com/porterkit/bootstrap/runner/buildcache/registrytest"
	"github.com/porterkit/bootstrap/runner/sign"
)

// The shared build cache (docs/cache.md, issue 22) on the real binary and a
// real registry: a toy chain of four components, built on one "machine"
// (its own HOME, XDG dirs and signing key) and restored on others.

// cacheRecipe is the toy chain: c1 (a dir source with a patch, and a
// verify: step) → c2 (a dir source with a patch) → c3 → c4 (a declared
// output in the shared install dir). Each build step sleeps SLEEP seconds,
// so that a restore's time means something next to a build's.
const cacheRecipe = `name: cache-toy
components:
  - name: c1
    source:
      dir: src1
    patches:
      - file: p1.patch
    steps:
      - name: build
        run: |
          sleep SLEEP
          cat ${{ src }}/a.txt > out1.txt
          echo c1 >> out1.txt
    verify:
      file: out1.txt
      sha256: OUT1SUM
  - name: c2
    needs: [c1]
    source:
      dir: src2
    patches:
      - file: p2.patch
    steps:
      - name: build
        run: |
          sleep SLEEP
          cat ${{ components.c1.build }}/out1.txt ${{ src }}/b.txt > out2.txt
  - name: c3
    needs: [c2]
    steps:
      - name: build
        run: |
          sleep SLEEP
          cat ${{ components.c2.build }}/out2.txt > out3.txt
          echo c3 >> out3.txt
  - name: c4
    needs: [c3]
    steps:
      - name: build
        run: |
          sleep SLEEP
          cat ${{ components.c3.build }}/out3.txt > ${{ work }}/install/c4.txt
          echo c4 >> ${{ work }}/install/c4.txt
    outputs: ["${{ work }}/install/c4.txt"]
`

func patchText(file, old, new string) string {
	return fmt.Sprintf("--- a/%s\n+++ b/%s\n@@ -1 +1 @@\n-%s\n+%s\n", file, file, old, new)
}

// cacheFixture writes the toy recipe with build steps sleeping sleep
// seconds and returns its path.
func cacheFixture(t *testing.T, sleep string) string {
	t.Helper()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte("A\nc1\n"))
	recipe := strings.NewReplacer("SLEEP", sleep, "OUT1SUM", hex.EncodeToString(sum[:])).Replace(cacheRecipe)
	files := map[string]string{"cache.yaml": recipe, "src1/a.txt": "a\n", "src2/b.txt": "b\n",
		"p1.patch": patchText("a.txt", "a", "A"), "p2.patch": patchText("b.txt", "b", "B")}
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "cache.yaml")
}

// machine is a bootstrap user on a computer of its own: a home (the cwd
// bsEnv gives XDG_CACHE_HOME and XDG_CONFIG_HOME under, so its own
// download cache and signing key) and a docker config dir.
type machine struct {
	t    *testing.T
	home string
	env  []string
}

func newMachine(t *testing.T, env ...string) *machine {
	return &machine{t: t, home: t.TempDir(), env: append([]string{"DOCKER_CONFIG=" + t.TempDir()}, env...)}
}

func (m *machine) bs(args ...string) result {
	m.t.Helper()
	return bsEnv(m.t, m.home, m.env, args...)
}

// pub is the machine's public key file (made by its first run).
func (m *machine) pub() string {
	return filepath.Join(m.home, ".config", "bootstrap", "keys", sign.PublicName)
}

// elsewhere is a fresh work dir path for another machine, at another
// path and depth than any other: signatures do not depend on where the
// work dir is (steps see it at one fixed path), so a cache entry made in
// one is restored in another.
func elsewhere(t *testing.T) string {
	return filepath.Join(t.TempDir(), "another", "place", "work")
}

var runStepRE = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d start (c\d:build)$`)

// ranCommands lists the run steps (commands) a run's output says it
// started.
func ranCommands(out string) []string {
	var ids []string
	for _, m := range runStepRE.FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// treeHashes are the tree hashes of every component's trees in w.
func treeHashes(t *testing.T, w string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{"src/c1", "src/c2", "build/c1", "build/c2", "build/c3", "build/c4", "install/c4.txt"} {
		h, err := treehash.Sum(filepath.Join(w, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[p] = h
	}
	return out
}

// restoredKey is the component key a restored checkpoint of comp's build
// step records.
func restoredKey(t *testing.T, w, comp string) string {
	t.Helper()
	var cp struct {
		Restored *struct{ Key, From, Signer string } `json:"restored"`
	}
	data, err := os.ReadFile(filepath.Join(w, "state", comp, "build.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cp); err != nil || cp.Restored == nil {
		t.Fatalf("%s:build's checkpoint is not marked restored: %v\n%s", comp, err, data)
	}
	return cp.Restored.Key
}

func TestBuildCacheRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	url := "oci://" + reg.Host + "/team/bootstrap-cache"
	auth := "REGISTRY_AUTH_FILE=" + reg.AuthFile
	// 3 s per build step: machine 2's time is a fixed cost (about 0.3–0.9 s
	// on a loaded 2-core machine), so the ratio has room under 10 %.
	recipe := cacheFixture(t, "3")
	w := filepath.Join(t.TempDir(), "work")

	// Machine 1 builds everything and pushes it.
	m1 := newMachine(t, auth)
	start := time.Now()
	r := m1.bs("run", recipe, "--workdir", w, "--cache-to", url)
	first := time.Since(start)
	if r.code != 0 {
		t.Fatalf("machine 1: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []string{"c1", "c2", "c3", "c4"} {
		if !strings.Contains(r.stdout, "pushed "+c+" to "+url) {
			t.Errorf("machine 1 did not push %s:\n%s", c, r.stdout)
		}
	}
	want := treeHashes(t, w)
	w = elsewhere(t)

	// Machine 2: a fresh work dir, an empty cache, its own key, trusting
	// machine 1's.
	m2 := newMachine(t, auth)
	r = m2.bs("plan", recipe, "--workdir", w, "--cache-from", url, "--trust", m1.pub())
	if n := strings.Count(r.stdout, "restorable from "+url); r.code != 0 || n != 4 {
		t.Errorf("machine 2's plan: %d components restorable, want 4 (exit %d)\n%s\n%s", n, r.code, r.stdout, r.stderr)
	}
	start = time.Now()
	r = m2.bs("run", recipe, "--workdir", w, "--cache-from", url, "--trust", m1.pub())
	second := time.Since(start)
	if r.code != 0 {
		t.Fatalf("machine 2: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "restored 4 of 4 components") || len(ranCommands(r.stdout)) != 0 {
		t.Errorf("machine 2: want 4 of 4 restored and no command run, ran %v:\n%s", ranCommands(r.stdout), r.stdout)
	}
	if !strings.Contains(r.stdout, "start c1:verify") {
		t.Errorf("machine 2 did not verify c1 again after its restore:\n%s", r.stdout)
	}
	if got := treeHashes(t, w); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restored trees differ from machine 1's:\n got %v\nwant %v", got, want)
	}
	t.Logf("machine 1 built and pushed in %s; machine 2 restored 4 of 4 in %s (%.1f%%)", first.Round(time.Millisecond),
		second.Round(time.Millisecond), 100*second.Seconds()/first.Seconds())
	if second > first/10 {
		t.Errorf("machine 2 took %s, more than 10%% of machine 1's %s", second, first)
	}
	// Nothing is left to do, and the provenance says where each came from.
	if r := m2.bs("plan", recipe, "--workdir", w); !strings.Contains(r.stdout, "0 stale, 0 pending") {
		t.Errorf("plan after the restore:\n%s", r.stdout)
	}
	prov, _ := os.ReadFile(filepath.Join(w, "provenance.json"))
	checkProvenanceRestored(t, prov, url)
	w = elsewhere(t)

	// The cases below build what they do not restore: they use the same
	// chain with steps that do not sleep, which machine 1 pushes too.
	fast := cacheFixture(t, "0")
	if r := m1.bs("run", fast, "--workdir", elsewhere(t), "--cache-to", url); r.code != 0 || strings.Count(r.stdout, "pushed ") != 4 {
		t.Fatalf("machine 1, the fast chain: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wk := elsewhere(t)
	if r := newMachine(t, auth).bs("run", fast, "--workdir", wk, "--to", "c1", "--cache-from", url, "--trust", m1.pub()); r.code != 0 {
		t.Fatalf("restore c1 of the fast chain: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	c1Key := restoredKey(t, wk, "c1")

	t.Run("changed patch of c2: c1 restored, c2 to c4 rebuilt, as explain says", func(t *testing.T) {
		p2 := filepath.Join(filepath.Dir(fast), "p2.patch")
		orig, _ := os.ReadFile(p2)
		os.WriteFile(p2, []byte(patchText("b.txt", "b", "B2")), 0o644)
		defer os.WriteFile(p2, orig, 0o644)
		w := elsewhere(t)
		m := newMachine(t, auth)
		args := []string{"--workdir", w, "--cache-from", url, "--trust", m1.pub()}
		if r := m.bs(append([]string{"explain", fast, "c1:build"}, args...)...); !strings.Contains(r.stdout, "restorable from "+url) {
			t.Errorf("explain c1:build does not say restorable:\n%s%s", r.stdout, r.stderr)
		}
		for _, s := range []string{"c2:build", "c3:build", "c4:build"} {
			r := m.bs(append([]string{"explain", fast, s}, args...)...)
			if !strings.Contains(r.stdout, "not restorable") {
				t.Errorf("explain %s does not say it is not restorable:\n%s%s", s, r.stdout, r.stderr)
			}
		}
		r := m.bs(append([]string{"run", fast}, args...)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "restored c1 from") || strings.Contains(r.stdout, "restored c2") ||
			fmt.Sprint(ranCommands(r.stdout)) != "[c2:build c3:build c4:build]" {
			t.Errorf("want c1 restored and c2..c4 built, ran %v:\n%s", ranCommands(r.stdout), r.stdout)
		}
	})

	// The cases where nothing may be restored, each on a fresh machine
	// that builds c1 (--to c1) instead.
	store, err := buildcache.OpenStore(url, buildcache.Options{Getenv: func(k string) string {
		return map[string]string{"REGISTRY_AUTH_FILE": reg.AuthFile}[k]
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env, err := store.Record(ctx, c1Key)
	if err != nil {
		t.Fatal(err)
	}
	m1pub, err := sign.ReadPublic(m1.pub())
	if err != nil {
		t.Fatal(err)
	}
	v, err := buildcache.Open(ctx, env, c1Key, []ed25519.PublicKey{m1pub})
	if err != nil {
		t.Fatal(err)
	}
	hexd := strings.TrimPrefix(v.Archive.Digest, "sha256:")
	blob := filepath.Join(reg.Storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")
	archive := filepath.Join(t.TempDir(), "c1.tar.zst")
	if err := buildcache.Download(ctx, store, v.Archive, archive); err != nil {
		t.Fatal(err)
	}
	unsigned := strings.Replace(string(env), `"signatures":[{`, `"signatures":[],"was":[{`, 1)
	refused := []struct {
		name      string
		trust     bool
		before    func()
		after     func()
		wantLines string
	}{
		{"flipped byte in the pushed blob", true, func() { flip(t, blob) }, func() { flip(t, blob) }, "as its signed record says"},
		{"unsigned record", true,
			func() {
				if err := store.Push(ctx, c1Key, []byte(unsigned), v.Archive, archive); err != nil {
					t.Fatal(err)
				}
			},
			func() {
				if err := store.Push(ctx, c1Key, env, v.Archive, archive); err != nil {
					t.Fatal(err)
				}
			}, "the record is unsigned"},
		{"record signed by an unknown key", false, func() {}, func() {}, "which is not trusted"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			tc.before()
			defer tc.after()
			w := elsewhere(t)
			m := newMachine(t, auth)
			args := []string{"run", fast, "--workdir", w, "--cache-from", url, "--to", "c1"}
			if tc.trust {
				args = append(args, "--trust", m1.pub())
			}
			r := m.bs(args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "restored c1") || fmt.Sprint(ranCommands(r.stdout)) != "[c1:build]" {
				t.Errorf("want c1 built, not restored; ran %v:\n%s", ranCommands(r.stdout), r.stdout)
			}
			if !strings.Contains(r.stdout, "c1: not restored") || !strings.Contains(r.stdout, tc.wantLines) {
				t.Errorf("want a line saying c1 was not restored because %q:\n%s", tc.wantLines, r.stdout)
			}
		})
	}

	t.Run("20 SIGKILLs during restores", func(t *testing.T) {
		sigkillRestores(t, recipe, w, want, url, auth, m1.pub())
	})

	t.Run("registry down", func(t *testing.T) {
		reg.Stop()
		w := elsewhere(t)
		m := newMachine(t, auth)
		r := m.bs("run", fast, "--workdir", w, "--cache-from", url, "--cache-to", url, "--to", "c1")
		if r.code != 0 {
			t.Fatalf("a run with the registry down failed: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "cannot be asked") || !strings.Contains(r.stdout, "warning: not pushing to "+url) {
			t.Errorf("want a line for the failed lookup and a warning for the push:\n%s", r.stdout)
		}
	})
}

// checkProvenanceRestored checks that the signed record names every build
// step as restored, from url.
func checkProvenanceRestored(t *testing.T, envelope []byte, url string) {
	t.Helper()
	var env struct{ Payload []byte }
	if err := json.Unmarshal(envelope, &env); err != nil {
		t.Fatalf("provenance: %v", err)
	}
	var st struct {
		Predicate struct {
			RunDetails struct {
				Byproducts []struct {
					Name        string
					Annotations map[string]any
				}
			} `json:"runDetails"`
		}
	}
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		t.Fatalf("provenance payload: %v", err)
	}
	n := 0
	for _, b := range st.Predicate.RunDetails.Byproducts {
		if b.Annotations["status"] == "restored" && b.Annotations["restoredFrom"] == url && b.Annotations["restoredSigner"] != "" {
			n++
		}
	}
	// c1: fetch, patch, build; c2: fetch, patch, build; c3, c4: build.
	if n != 8 {
		t.Errorf("provenance marks %d steps restored from %s, want 8", n, url)
	}
}

// flip changes one byte in the middle of a file (twice restores it).
func flip(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sigkillRestores kills restoring runs at random instants within a
// restore's duration, 20 times, and checks after each that every
// component whose build step plan calls done has exactly machine 1's
// trees; then a last run finishes the work and matches them all.
func sigkillRestores(t *testing.T, recipe, w string, want map[string]string, url, auth, trust string) {
	m := newMachine(t, auth)
	run := func() []string { return []string{"run", recipe, "--workdir", w, "--cache-from", url, "--trust", trust} }
	start := time.Now()
	if r := m.bs(run()...); r.code != 0 || !strings.Contains(r.stdout, "restored 4 of 4") {
		t.Fatalf("a whole restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	whole := time.Since(start)
	treesOf := map[string][]string{"c1": {"src/c1", "build/c1"}, "c2": {"src/c2", "build/c2"}, "c3": {"build/c3"}, "c4": {"build/c4", "install/c4.txt"}}
	wrong, partial := 0, 0
	for i := range 20 {
		w = elsewhere(t)
		cmd := exec.Command(binary, run()...)
		cmd.Dir = m.home
		cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(m.home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(m.home, ".config")), m.env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(whole))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		r := m.bs("plan", recipe, "--workdir", w, "--json")
		if r.code != 0 {
			t.Fatalf("kill %d: plan: exit %d\n%s", i, r.code, r.stderr)
		}
		var plan struct {
			Steps []struct{ ID, State string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, s := range plan.Steps {
			comp, step, _ := strings.Cut(s.ID, ":")
			if step != "build" || s.State != "done" {
				continue
			}
			done++
			for _, tr := range treesOf[comp] {
				if h, err := treehash.Sum(filepath.Join(w, tr)); err != nil || h != want[tr] {
					wrong++
					t.Errorf("kill %d: %s is done but %s is %s (%v), not machine 1's %s", i, s.ID, tr, h, err, want[tr])
				}
			}
		}
		if done > 0 && done < 4 {
			partial++
		}
	}
	// The last state is finished by an ordinary run with the cache.
	r := m.bs(run()...)
	if r.code != 0 {
		t.Fatalf("the run after the last kill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := treeHashes(t, w); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the kills, trees differ:\n got %v\nwant %v", got, want)
	}
	t.Logf("20 SIGKILLs within a %s restore: %d left some components restored and others not, %d wrong states", whole.Round(time.Millisecond), partial, wrong)
}

// TestBuildCacheFileStore is the same round trip through a plain
// directory (file:///DIR, a mounted share), with steps that do not sleep.
func TestBuildCacheFileStore(t *testing.T) {
	dir := t.TempDir()
	url := "file://" + dir
	recipe := cacheFixture(t, "0")
	w := filepath.Join(t.TempDir(), "work")
	m1 := newMachine(t)
	if r := m1.bs("run", recipe, "--workdir", w, "--cache-to", url); r.code != 0 || strings.Count(r.stdout, "pushed ") != 4 {
		t.Fatalf("machine 1: exit %d, want 4 pushes\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	want := treeHashes(t, w)
	w = elsewhere(t)
	m2 := newMachine(t)
	r := m2.bs("run", recipe, "--workdir", w, "--cache-from", url, "--trust", m1.pub())
	if r.code != 0 || !strings.Contains(r.stdout, "restored 4 of 4 components") || len(ranCommands(r.stdout)) != 0 {
		t.Fatalf("machine 2: exit %d, want 4 of 4 restored and no command run\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := treeHashes(t, w); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restored trees differ from machine 1's:\n got %v\nwant %v", got, want)
	}
	// A flipped byte in c1's stored archive: c1 is built here, and c2 to
	// c4, whose keys do not depend on where c1 was built, are restored
	// when their turn comes.
	pub, err := sign.ReadPublic(m1.pub())
	if err != nil {
		t.Fatal(err)
	}
	records, _ := filepath.Glob(filepath.Join(dir, "records", "*.json"))
	c1Blob := ""
	for _, rec := range records {
		env, _ := os.ReadFile(rec)
		key := strings.TrimSuffix(filepath.Base(rec), ".json")
		if v, err := buildcache.Open(context.Background(), env, key, []ed25519.PublicKey{pub}); err == nil && v.Component == "c1" {
			c1Blob = filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(v.Archive.Digest, "sha256:"))
		}
	}
	if len(records) != 4 || c1Blob == "" {
		t.Fatalf("%d records in %s, c1's archive %q", len(records), dir, c1Blob)
	}
	flip(t, c1Blob)
	w = elsewhere(t)
	r = m2.bs("run", recipe, "--workdir", w, "--cache-from", url, "--trust", m1.pub())
	if r.code != 0 || strings.Contains(r.stdout, "restored c1") || fmt.Sprint(ranCommands(r.stdout)) != "[c1:build]" ||
		!strings.Contains(r.stdout, "as its signed record says") {
		t.Fatalf("with c1's archive damaged: exit %d, want c1 built (saying why) and no other command\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []string{"c2", "c3", "c4"} {
		if !strings.Contains(r.stdout, "restored "+c+" from "+url) {
			t.Errorf("%s was not restored after c1 was built here:\n%s", c, r.stdout)
		}
	}
	if got := treeHashes(t, w); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("trees differ from machine 1's:\n got %v\nwant %v", got, want)
	}
}

// TestBuildCacheUsageErrors: a store URL or trusted key that cannot be
// used stops a command before any work, with exit 2 and the reason.
func TestBuildCacheUsageErrors(t *testing.T) {
	recipe := cacheFixture(t, "0")
	w := filepath.Join(t.TempDir(), "work")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", recipe, "--workdir", w, "--cache-to", "s3://bucket/key"}, "unknown kind of store"},
		{[]string{"run", recipe, "--workdir", w, "--cache-from", "oci://registry.example"}, "oci://HOST[:PORT]/REPO"},
		{[]string{"run", recipe, "--workdir", w, "--cache-from", "file://relative/dir"}, "file:///ABSOLUTE/PATH"},
		{[]string{"run", recipe, "--workdir", w, "--cache-from", "file:///tmp/x", "--trust", "/nonexistent/alice.pub"}, "--trust"},
		{[]string{"plan", recipe, "--workdir", w, "--cache-from", "ftp://host/dir"}, "unknown kind of store"},
	}
	for _, tc := range tests {
		t.Run(tc.args[0]+" "+strings.Join(tc.args[4:], " "), func(t *testing.T) {
			r := newMachine(t).bs(tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 and %q\n%s%s", r.code, tc.want, r.stdout, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(w, "state")); err == nil {
				t.Errorf("%s has checkpoints: the command did work before refusing", w)
			}
		})
	}
}

// TestBuildCacheToolIdentity: a component built with another host tool
// (here a different program at the same path, as another gcc would be)
// has another key, so the cache never hands it over for ours.
func TestBuildCacheToolIdentity(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	tool := filepath.Join(bin, "porter-cc")
	writeTool := func(version string) {
		t.Helper()
		if err := os.WriteFile(tool, []byte("#!/bin/sh\necho porter-cc "+version+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTool("1")
	recipe := filepath.Join(dir, "tool.yaml")
	os.WriteFile(recipe, []byte(`name: tool-cache
env:
  PATH: `+bin+`:/usr/bin:/bin
components:
  - name: a
    tools: [porter-cc]
    steps:
      - {name: build, run: 'echo built > out.txt'}
`), 0o644)
	url := "file://" + t.TempDir()
	m1 := newMachine(t)
	if r := m1.bs("run", recipe, "--workdir", elsewhere(t), "--cache-to", url, "--skip-doctor"); r.code != 0 || !strings.Contains(r.stdout, "pushed a") {
		t.Fatalf("machine 1: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	m2 := newMachine(t)
	args := []string{"--workdir", elsewhere(t), "--cache-from", url, "--trust", m1.pub()}
	if r := m2.bs(append([]string{"plan", recipe}, args...)...); !strings.Contains(r.stdout, "a: restorable from") {
		t.Fatalf("same tool: not restorable\n%s%s", r.stdout, r.stderr)
	}
	writeTool("2")
	if r := m2.bs(append([]string{"plan", recipe}, args...)...); !strings.Contains(r.stdout, "a: not restorable: not in "+url) {
		t.Fatalf("another tool: want not restorable\n%s%s", r.stdout, r.stderr)
	}
	r := m2.bs(append([]string{"run", recipe, "--skip-doctor"}, args...)...)
	if r.code != 0 || strings.Contains(r.stdout, "restored a") || !strings.Contains(r.stdout, "start a:build") {
		t.Fatalf("another tool: want a built, not restored: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
