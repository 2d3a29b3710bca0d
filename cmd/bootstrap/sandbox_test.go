package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sandboxCase is one hostile behaviour of a step: a recipe whose step
// tries it (and does not fail when stopped), and a check from outside
// whether it got through.
type sandboxCase struct {
	name string
	// recipe is the recipe's text; the test's values come through
	// ${{ env.NAME }}, from env.
	recipe string
	// env is extra environment for bootstrap; prepare may add to it.
	prepare func(t *testing.T, dir string) []string
	// escaped reports whether the behaviour reached outside the sandbox.
	escaped func(t *testing.T, dir string) bool
	// umask is the caller's umask for the run ("" leaves it).
	umask string
}

// TestSandboxHostile runs each hostile step twice on the real binary:
// with --no-sandbox the behaviour must get through (the check can fail),
// and in the sandbox it must not.
func TestSandboxHostile(t *testing.T) {
	for _, tc := range sandboxCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, mode := range []string{"no-sandbox", "sandbox"} {
				dir := t.TempDir()
				env := tc.prepare(t, dir)
				if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(tc.recipe), 0o644); err != nil {
					t.Fatal(err)
				}
				args := []string{"run", "r.yaml", "--workdir", filepath.Join(dir, "work")}
				if mode == "no-sandbox" {
					args = append(args, "--no-sandbox")
				}
				r := bsUmask(t, dir, tc.umask, env, args...)
				if r.code != 0 {
					t.Fatalf("%s: exit %d\n%s%s", mode, r.code, r.stdout, r.stderr)
				}
				if got, want := tc.escaped(t, dir), mode == "no-sandbox"; got != want {
					logs, _ := exec.Command("sh", "-c", "cat "+filepath.Join(dir, "work/logs/*/*.log")).CombinedOutput()
					t.Errorf("%s: escaped = %v, want %v\n%s", mode, got, want, logs)
				}
			}
		})
	}
}

func sandboxCases() []sandboxCase {
	none := func(t *testing.T, dir string) []string { return nil }
	exists := func(p ...string) func(t *testing.T, dir string) bool {
		return func(t *testing.T, dir string) bool {
			_, err := os.Stat(filepath.Join(append([]string{dir}, p...)...))
			return err == nil
		}
	}
	return []sandboxCase{
		{
			name: "loopback network",
			recipe: `name: net
components:
  - name: a
    steps:
      - name: fetch-it
        shell: bash
        run: |
          exec 3<>/dev/tcp/127.0.0.1/${{ env.PORT }} || exit 0
          printf 'GET / HTTP/1.0\r\n\r\n' >&3
          cat <&3 || true
`,
			prepare: func(t *testing.T, dir string) []string {
				var hits atomic.Int32
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					os.WriteFile(filepath.Join(dir, "hit"), nil, 0o644)
					fmt.Fprintln(w, "secret")
				})}
				go srv.Serve(ln)
				t.Cleanup(func() { srv.Close() })
				return []string{fmt.Sprintf("PORT=%d", ln.Addr().(*net.TCPAddr).Port)}
			},
			escaped: exists("hit"),
		},
		{
			name: "write outside the work dir",
			recipe: `name: outside
components:
  - name: a
    steps:
      - name: write
        run: echo owned > ${{ env.OUTSIDE }}/owned || true
`,
			prepare: func(t *testing.T, dir string) []string {
				os.Mkdir(filepath.Join(dir, "outside"), 0o755)
				return []string{"OUTSIDE=" + filepath.Join(dir, "outside")}
			},
			escaped: exists("outside", "owned"),
		},
		{
			name: "write into another component's trees",
			recipe: `name: other
components:
  - name: a
    steps:
      - name: make
        run: |
          echo a > mine
          mkdir -p ${{ work }}/install/a && echo a > ${{ work }}/install/a/tool
    outputs:
      - ${{ work }}/install/a/tool
  - name: unrelated
    steps:
      - name: make
        run: echo u > mine
  - name: b
    needs: [a]
    env:
      # Named through an env value, which needs no needs: entry: the
      # sandbox, not the loader, keeps b out of it.
      UNRELATED: ${{ work }}/build/unrelated
    steps:
      - name: tamper
        run: |
          echo b >> ${{ components.a.build }}/mine || true
          echo b >> ${{ work }}/install/a/tool || true
          echo b >> "$UNRELATED/mine" || true
          cat ${{ components.a.build }}/mine
`,
			prepare: none,
			escaped: func(t *testing.T, dir string) bool {
				n := 0
				for _, p := range []string{"work/build/a/mine", "work/install/a/tool", "work/build/unrelated/mine"} {
					data, err := os.ReadFile(filepath.Join(dir, p))
					if err != nil {
						t.Fatal(err)
					}
					if strings.Contains(string(data), "b") {
						n++
					}
				}
				if n != 0 && n != 3 {
					t.Errorf("%d of 3 writes got through", n)
				}
				return n > 0
			},
		},
		{
			name: "detached process outlives the step",
			recipe: `name: detached
components:
  - name: a
    steps:
      - name: spawn
        run: |
          setsid sh -c ': > "$1.up"; sleep 2; echo late > "$1"' sh ${{ build }}/late > /dev/null 2>&1 < /dev/null &
          # Until it has left the step's process group: the check is
          # whether a detached process outlives the step.
          while [ ! -e ${{ build }}/late.up ]; do sleep 0.01; done
          echo spawned
`,
			prepare: none,
			escaped: func(t *testing.T, dir string) bool {
				time.Sleep(3 * time.Second)
				return exists("work", "build", "a", "late")(t, dir)
			},
		},
		{
			name: "read the cache and state",
			recipe: `name: peek
components:
  - name: a
    steps:
      - name: first
        run: "true"
      - name: peek
        run: |
          cat ${{ work }}/state/a/first.json > stolen-state || rm -f stolen-state
          cat ${{ env.XDG_CACHE_HOME }}/bootstrap/secret > stolen-cache || rm -f stolen-cache
`,
			prepare: func(t *testing.T, dir string) []string {
				cache := filepath.Join(dir, ".cache", "bootstrap")
				os.MkdirAll(cache, 0o755)
				os.WriteFile(filepath.Join(cache, "secret"), []byte("secret\n"), 0o644)
				return nil
			},
			escaped: func(t *testing.T, dir string) bool {
				state := exists("work", "build", "a", "stolen-state")(t, dir)
				cache := exists("work", "build", "a", "stolen-cache")(t, dir)
				if state != cache {
					t.Errorf("state read %v, cache read %v", state, cache)
				}
				return state || cache
			},
		},
		{
			name: "write /sys",
			recipe: `name: sys
components:
  - name: a
    steps:
      - name: write
        # Opens a kernel setting for writing and writes nothing: harmless
        # when it gets through.
        run: |
          if (: >> /sys/kernel/profiling); then echo yes > sys-writable; fi
`,
			prepare: none,
			escaped: exists("work", "build", "a", "sys-writable"),
		},
		{
			name:  "caller's umask",
			umask: "002",
			recipe: `name: umask
components:
  - name: a
    steps:
      - name: files
        run: |
          umask > umask
          touch made
`,
			prepare: none,
			escaped: func(t *testing.T, dir string) bool {
				fi, err := os.Stat(filepath.Join(dir, "work", "build", "a", "made"))
				if err != nil {
					t.Fatal(err)
				}
				return fi.Mode().Perm()&0o020 != 0
			},
		},
	}
}

// bsUmask runs the binary as bsEnv does, under umask (when not "").
func bsUmask(t *testing.T, dir, umask string, env []string, args ...string) result {
	t.Helper()
	if umask == "" {
		return bsEnv(t, dir, env, args...)
	}
	// The umask is per process: set it in a shell that then becomes
	// bootstrap, not in the test binary, whose other tests run alongside.
	sh := append([]string{"-c", "umask " + umask + ` && exec "$@"`, "sh", binary}, args...)
	cmd := exec.Command("/bin/sh", sh...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache")), env...)
	out, err := cmd.CombinedOutput()
	r := result{stdout: string(out)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSandboxEmulated: the chroot executor confines steps the same way: in
// the i386 test root file system (busybox), a step cannot write another
// component's tree, the tree itself or /sys, cannot read state/, sees a
// minimal /dev and umask 022; with --no-sandbox it can do the first four.
func TestSandboxEmulated(t *testing.T) {
	rootfs := testRootfs(t, "i386")
	recipe := `name: emu
components:
  - name: a
    steps:
      - name: make
        run: echo a > mine
  - name: b
    needs: [a]
    steps:
      - name: try
        run: |
          rm -f escaped
          if (echo b >> ${{ components.a.build }}/mine) 2>/dev/null; then echo other >> escaped; fi
          if (echo x > /etc/owned) 2>/dev/null; then echo rootfs >> escaped; fi
          if (: >> /sys/kernel/profiling) 2>/dev/null; then echo sys >> escaped; fi
          if cat ${{ work }}/state/a/make.json > /dev/null 2>&1; then echo state >> escaped; fi
          touch escaped
          umask > umask
          ls /dev > devs
`
	for _, mode := range []string{"no-sandbox", "sandbox"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(recipe), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"run", "r.yaml", "--emulate", "--target", "386", "--rootfs", rootfs, "--workdir", filepath.Join(dir, "work")}
		if mode == "no-sandbox" {
			args = append(args, "--no-sandbox")
		}
		if r := bsUmask(t, dir, "002", nil, args...); r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", mode, r.code, r.stdout, r.stderr)
		}
		read := func(name string) string {
			data, err := os.ReadFile(filepath.Join(dir, "work", "build", "b", name))
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(strings.Fields(string(data)), " ")
		}
		esc, umask, devs := read("escaped"), read("umask"), read("devs")
		if mode == "no-sandbox" {
			if esc != "other rootfs sys state" {
				t.Errorf("no-sandbox: escaped %q, want all four (the checks can fail)", esc)
			}
			continue
		}
		if esc != "" || umask != "0022" {
			t.Errorf("sandbox: escaped %q, umask %q; want none and 0022", esc, umask)
		}
		if devs != "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero" {
			t.Errorf("sandbox: /dev holds %q", devs)
		}
		if m := leakedMounts(t, dir); len(m) > 0 {
			t.Errorf("mounts left behind: %v", m)
		}
	}
}

// TestSandboxRecorded: the provenance says how each run step was confined,
// plan marks the exceptions with their reason, and --no-sandbox is
// recorded and reruns each step once.
func TestSandboxRecorded(t *testing.T) {
	dir := t.TempDir()
	recipe := `name: rec
components:
  - name: a
    steps:
      - name: plain
        run: "true"
      - name: net
        network: true
        reason: talks to a test server
        run: "true"
`
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	annotations := func() map[string]string {
		// The statement as signed (provenance.json is its envelope).
		rec := bs(t, dir, "record", "r.yaml", "--workdir", work, "--json")
		if rec.code != 0 {
			t.Fatalf("record --json: exit %d\n%s", rec.code, rec.stderr)
		}
		data := []byte(rec.stdout)
		var st struct {
			Predicate struct {
				RunDetails struct {
					Byproducts []struct {
						Name        string
						Annotations map[string]any
					}
				}
			}
		}
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, b := range st.Predicate.RunDetails.Byproducts {
			if s, ok := b.Annotations["sandbox"].(string); ok {
				out[b.Name] = s
			}
		}
		return out
	}
	for _, tc := range []struct {
		flags   []string
		ran     []string
		sandbox map[string]string
		plan    string
	}{
		{nil, []string{"a:net", "a:plain"}, map[string]string{"a:plain": "v2 net=none", "a:net": "v2 network: talks to a test server"}, "[network: talks to a test server]"},
		{nil, nil, map[string]string{"a:plain": "v2 net=none", "a:net": "v2 network: talks to a test server"}, "[network: talks to a test server]"},
		{[]string{"--no-sandbox"}, []string{"a:net", "a:plain"}, map[string]string{"a:plain": "off (--no-sandbox)", "a:net": "off (--no-sandbox)"}, "--no-sandbox: 2 run steps are planned without the sandbox"},
	} {
		r := bs(t, dir, append([]string{"run", "r.yaml", "--workdir", work}, tc.flags...)...)
		if r.code != 0 {
			t.Fatalf("run %v: exit %d\n%s%s", tc.flags, r.code, r.stdout, r.stderr)
		}
		if got := started(r.stdout + r.stderr); !equal(got, tc.ran) {
			t.Errorf("run %v started %v, want %v", tc.flags, got, tc.ran)
		}
		if len(tc.ran) > 0 {
			if got := annotations(); !reflect.DeepEqual(got, tc.sandbox) {
				t.Errorf("run %v: provenance sandbox %v, want %v", tc.flags, got, tc.sandbox)
			}
		}
		p := bs(t, dir, append([]string{"plan", "r.yaml", "--workdir", work}, tc.flags...)...)
		if !strings.Contains(p.stdout, tc.plan) {
			t.Errorf("plan %v does not say %q:\n%s", tc.flags, tc.plan, p.stdout)
		}
	}
}

// TestSandboxNetworkException: a step that declares network: true reaches
// the test's server on the host's loopback from inside the sandbox, and
// still cannot write outside its trees.
func TestSandboxNetworkException(t *testing.T) {
	for _, tc := range sandboxCases() {
		if tc.name != "loopback network" {
			continue
		}
		dir := t.TempDir()
		env := tc.prepare(t, dir)
		recipe := strings.Replace(tc.recipe, "        shell: bash\n", "        shell: bash\n        network: true\n        reason: talks to the test's server\n", 1)
		recipe = strings.Replace(recipe, "          cat <&3 || true\n", "          cat <&3 || true\n          echo x > "+filepath.Join(dir, "owned")+" || true\n", 1)
		if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(recipe), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := bsEnv(t, dir, env, "run", "r.yaml", "--workdir", filepath.Join(dir, "work")); r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !tc.escaped(t, dir) {
			t.Error("a step with network: true did not reach the server")
		}
		if _, err := os.Stat(filepath.Join(dir, "owned")); err == nil {
			t.Error("a step with network: true wrote outside the work dir")
		}
	}
}
