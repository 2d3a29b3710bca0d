package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFlagsPerCommand: each command lists only the flags it uses, and no
// flag's help states two defaults.
func TestFlagsPerCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd        []string
		has, lacks []string
	}{
		{[]string{"run"}, []string{"--workdir", "--target", "--jobs", "--emulate", "--rootfs", "--debian-mirror", "--cache", "--mirror", "--offline", "--stall-timeout", "--retries", "--retry-wait", "--skip-doctor"}, nil},
		{[]string{"plan"}, []string{"--workdir", "--target", "--jobs", "--emulate", "--rootfs", "--cache"}, []string{"--mirror", "--offline", "--skip-doctor"}},
		{[]string{"explain"}, []string{"--workdir", "--target", "--jobs", "--emulate", "--rootfs", "--cache"}, []string{"--mirror", "--offline"}},
		{[]string{"log"}, []string{"--workdir", "--target"}, []string{"--jobs", "--emulate", "--rootfs", "--debian-mirror", "--cache"}},
		{[]string{"record"}, []string{"--workdir", "--target", "--json"}, []string{"--jobs", "--emulate", "--debian-mirror", "--cache"}},
		{[]string{"fetch"}, []string{"--target", "--cache", "--mirror", "--offline", "--stall-timeout"}, []string{"--jobs", "--emulate", "--rootfs", "--debian-mirror", "--workdir"}},
	} {
		t.Run(tc.cmd[0], func(t *testing.T) {
			r := bs(t, t.TempDir(), append(tc.cmd, "--help")...)
			if r.code != 0 {
				t.Fatalf("%s --help: exit %d\n%s%s", tc.cmd[0], r.code, r.stdout, r.stderr)
			}
			for _, f := range tc.has {
				if !regexp.MustCompile(`(?m)^\s+` + f + `\b`).MatchString(r.stdout) {
					t.Errorf("%s lacks %s:\n%s", tc.cmd[0], f, r.stdout)
				}
			}
			for _, f := range tc.lacks {
				if regexp.MustCompile(`(?m)^\s+` + f + `\b`).MatchString(r.stdout) {
					t.Errorf("%s lists %s, which does nothing there", tc.cmd[0], f)
				}
			}
			for _, line := range strings.Split(r.stdout, "\n") {
				if strings.Count(line, "default") > 1 {
					t.Errorf("two defaults: %s", strings.TrimSpace(line))
				}
			}
		})
	}
	r := bs(t, t.TempDir(), "run", "--help")
	for _, want := range []string{"(default: 1m)", "(default: 3)", "(default: 1s)", "(default: 1 step; jobs = CPUs)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestNoopRerunKeepsTheRecord: a rerun with nothing to do leaves the last
// run's provenance record as it was, and a run that does work replaces it.
func TestNoopRerunKeepsTheRecord(t *testing.T) {
	dir := copyFixture(t, "chain")
	record := filepath.Join(hostWork(dir, "chain"), "provenance.json")
	if r := bs(t, dir, "run", "chain.yaml"); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	before, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if r := bs(t, dir, "run", "chain.yaml"); r.code != 0 || !strings.Contains(r.stdout, "nothing to run") {
		t.Fatalf("rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(record); !bytes.Equal(before, after) {
		t.Error("a no-op rerun rewrote provenance.json")
	}
	if r := bs(t, dir, "run", "--force", "report:summarise", "chain.yaml"); r.code != 0 {
		t.Fatalf("forced run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(record); bytes.Equal(before, after) {
		t.Error("a run that did work left the old record")
	}
}
