package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCheck rebuilds done components aside with run --check: a
// deterministic one is bit-identical (exit 0), one whose step writes the
// time names exactly that file (exit 1); the checkpointed trees are not
// touched and the verdict is in the signed record.
func TestRunCheck(t *testing.T) {
	dir := copyFixture(t, "check")
	work := filepath.Join(dir, "work")
	args := []string{"run", "--plain", "--workdir", work, "recipe.yaml"}
	if r := bs(t, dir, args...); r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	stamp := filepath.Join(work, "build", "drifty", "stamp.txt")
	before := readFile(t, stamp)
	for _, tc := range []struct {
		step      string
		code      int
		want      string
		notWant   string
		identical bool
	}{
		{"steady:install", 0, "check steady:install: bit-identical (rebuilt steady:patch, steady:build, steady:install", "differ", true},
		{"drifty", 1, "check drifty:build: 1 file differs", "same.txt", false},
	} {
		t.Run(tc.step, func(t *testing.T) {
			r := bs(t, dir, append(args, "--check", tc.step)...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) || strings.Contains(r.stdout, tc.notWant) {
				t.Fatalf("exit %d, want %d and %q without %q\n%s\n%s", r.code, tc.code, tc.want, tc.notWant, r.stdout, r.stderr)
			}
			if !tc.identical && !strings.Contains(r.stdout, "  "+stamp+": sha256 ") {
				t.Errorf("the differing file is not named:\n%s", r.stdout)
			}
			rec := bs(t, dir, "record", "--json", "--workdir", work, "recipe.yaml")
			var st struct {
				Predicate struct {
					RunDetails struct {
						Byproducts []struct {
							Name        string
							Annotations map[string]json.RawMessage
						}
					}
				}
			}
			if err := json.Unmarshal([]byte(rec.stdout), &st); err != nil {
				t.Fatalf("record --json: %v\n%s", err, rec.stderr)
			}
			found := false
			for _, b := range st.Predicate.RunDetails.Byproducts {
				if c, ok := b.Annotations["check"]; ok && strings.HasPrefix(tc.step, strings.Split(b.Name, ":")[0]) {
					var v struct{ Identical bool }
					json.Unmarshal(c, &v)
					found = v.Identical == tc.identical
				}
			}
			if !found {
				t.Errorf("the record has no check verdict identical=%v for %s:\n%s", tc.identical, tc.step, rec.stdout)
			}
		})
	}
	if after := readFile(t, stamp); after != before {
		t.Errorf("--check changed the checkpointed tree: %s became %s", before, after)
	}
	if r := bs(t, dir, args...); r.code != 0 || len(started(r.stdout)) != 0 {
		t.Errorf("after the checks a run reran steps (exit %d): %v", r.code, started(r.stdout))
	}
}
