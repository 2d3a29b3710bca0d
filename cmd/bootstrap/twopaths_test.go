package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// twoPathsRecord is the part of `record --json` the two-path test reads.
type twoPathsRecord struct {
	Subject []struct {
		Name        string
		Digest      map[string]string
		Annotations map[string]any
	}
	Predicate struct {
		BuildDefinition struct {
			ResolvedDependencies []struct {
				Name        string
				Digest      map[string]string
				Annotations map[string]any
			}
		}
		RunDetails struct {
			Byproducts []struct {
				Name        string
				Annotations map[string]any
			}
		}
	}
}

// TestTwoBuildPaths builds one Go program along two paths (two working
// copies at two paths, two caches; testdata/twopaths): the verify against
// the other component's build says bit-identical, and a third build that
// embeds its time fails naming its binary. The record keeps this evidence
// apart from an official release's ("against": "independent", the other
// build's digest and steps), and plan and record say so. Then `run
// --check` rebuilds a component whose build dir holds a real Go build
// cache: bit-identical, with the cache reported as not compared although
// some of its files differ, as a cache's do.
func TestTwoBuildPaths(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on PATH")
	}
	dir := copyFixture(t, "twopaths")
	work := filepath.Join(dir, "work")
	env := []string{"GO_BIN_DIR=" + filepath.Dir(goBin)}
	run := func(args ...string) result {
		return bsEnv(t, dir, env, append(args, "--workdir", work, "twopaths.yaml")...)
	}
	stamped, helloA := filepath.Join(work, "build/stamped/hello"), filepath.Join(work, "build/hello-a/hello")

	r := run("run", "--plain", "--keep-going")
	if r.code != 1 {
		t.Fatalf("run: exit %d, want 1 (stamped:verify fails)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"step stamped:verify failed: " + stamped + " is not bit-identical to " + helloA + ", built independently by component hello-a",
		"1 file(s) differ:\n  " + stamped + ": size ",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the failure lacks %q:\n%s", want, r.stderr)
		}
	}
	if !regexp.MustCompile(`(?m)^\S+ done  hello-b:verify in `).MatchString(r.stdout) {
		t.Errorf("hello-b:verify did not pass:\n%s", r.stdout)
	}

	t.Run("plan and record", func(t *testing.T) {
		r := run("plan")
		if !regexp.MustCompile(`(?m)^hello-b:verify\s+done .*\[against hello-a's independent build\]$`).MatchString(r.stdout) {
			t.Errorf("plan does not say what hello-b is verified against:\n%s", r.stdout)
		}
		r = run("record")
		if !regexp.MustCompile(`(?m)hello-b:verify\s+ran .* bit-identical \(against hello-a's independent build\)$`).MatchString(r.stdout) ||
			!strings.Contains(r.stdout, "NOT bit-identical: 1 file(s) differ (against hello-a's independent build)") {
			t.Errorf("record does not give both verdicts and their kind:\n%s", r.stdout)
		}
		r = run("record", "--json")
		var st twoPathsRecord
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("record --json: %v\n%s", err, r.stderr)
		}
		verdicts := map[string]map[string]any{}
		for _, b := range st.Predicate.RunDetails.Byproducts {
			if v, ok := b.Annotations["verification"].(map[string]any); ok {
				verdicts[b.Name] = v
			}
		}
		if v := verdicts["hello-b:verify"]; v["against"] != "independent" || v["component"] != "hello-a" || v["identical"] != true {
			t.Errorf("hello-b:verify's verdict: %v", v)
		}
		v := verdicts["stamped:verify"]
		diffs, _ := v["differences"].([]any)
		if v["against"] != "independent" || v["identical"] != false || len(diffs) != 1 || diffs[0].(map[string]any)["name"] != stamped {
			t.Errorf("stamped:verify's verdict: %v", v)
		}
		sum := ""
		for _, s := range st.Subject {
			if s.Name == "/mnt/bootstrap/build/hello-b/hello" { // subjects are named as steps see them
				sum = s.Digest["sha256"]
				if s.Annotations["against"] != "independent" || s.Annotations["verifiedAgainst"] != "component hello-a's independent build" {
					t.Errorf("the verified subject does not say against what: %v", s.Annotations)
				}
			}
		}
		found := false
		for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
			if d.Name != "hello-b independent build by hello-a" {
				continue
			}
			found = true
			steps, _ := d.Annotations["steps"].(map[string]any)
			if sum == "" || d.Digest["sha256"] != sum || steps["hello-a:build"] == nil || d.Annotations["role"] != "independent build verified against" {
				t.Errorf("the other build as a dependency: digest %v (the subject's %q), annotations %v", d.Digest, sum, d.Annotations)
			}
		}
		if !found {
			t.Errorf("no resolved dependency for hello-a's build:\n%s", r.stdout)
		}
	})

	t.Run("check with a Go build cache", func(t *testing.T) {
		r := run("run", "--plain", "--check", "hello-a")
		if r.code != 0 || !strings.Contains(r.stdout, "check hello-a:build: bit-identical (rebuilt hello-a:patch, hello-a:build in ") {
			t.Fatalf("--check hello-a: exit %d, want 0 and bit-identical\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(filepath.Join(work, "build/hello-a/gocache")) +
			`: not compared: Go build cache, (\d+) files \(rebuilt: (\d+); (\d+) differ, as a cache's do\)$`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("the Go build cache is not reported as skipped:\n%s", r.stdout)
		}
		n, _ := strconv.Atoi(m[1])
		differ, _ := strconv.Atoi(m[3])
		// Without the rule these files would be a false alarm: the
		// rebuild's cache really does differ.
		if n < 10 || differ == 0 {
			t.Errorf("cache of %d files with %d differing: want a real cache that differs between two builds\n%s", n, differ, r.stdout)
		}
		t.Logf("%s", m[0])
	})
}
