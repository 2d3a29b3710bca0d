package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestReadmeListsEveryCommand checks that the README's command table has a
// row for every command and subcommand the CLI has (`cache add`, `patch
// edit`…), and its exit-code table a row for each documented code, so the
// front door does not fall behind the house.
func TestReadmeListsEveryCommand(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	var walk func(prefix string, cmds []*cli.Command)
	n := 0
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden || c.Name == "help" {
				continue
			}
			name := strings.TrimSpace(prefix + " " + c.Name)
			if len(c.Subcommands) > 0 {
				walk(name, c.Subcommands)
				continue
			}
			n++
			if !listed(readme, name) {
				t.Errorf("README.md: the command table has no row for `%s`", name)
			}
		}
	}
	walk("", newApp().Commands)
	if n < 15 {
		t.Fatalf("found only %d commands in newApp", n)
	}
	for _, code := range []int{exitOK, exitFailed, exitUsage, exitLocked} {
		if !strings.Contains(readme, fmt.Sprintf("\n| %d |", code)) {
			t.Errorf("README.md: the exit-code table has no row for %d", code)
		}
	}
}

// listed reports whether a row of a README table starts with a code span
// naming command, like "| `cache add FILE…` |". A word of the span may
// list alternatives, as in "`completion bash\|zsh\|fish`".
func listed(readme, command string) bool {
	want := strings.Fields(command)
	for _, line := range strings.Split(readme, "\n") {
		cell, ok := strings.CutPrefix(line, "| `")
		if !ok {
			continue
		}
		cell, _, _ = strings.Cut(cell, "` |")
		words := strings.Fields(cell)
		if len(words) < len(want) {
			continue
		}
		match := true
		for i, w := range want {
			alts := strings.Split(strings.ReplaceAll(words[i], "\\|", "|"), "|")
			found := false
			for _, a := range alts {
				found = found || a == w
			}
			match = match && found
		}
		if match {
			return true
		}
	}
	return false
}

// TestListed checks the README row matcher on the forms the table uses.
func TestListed(t *testing.T) {
	readme := "| command | what |\n| `run RECIPE` | build |\n| `cache add FILE…` | x |\n| `completion bash\\|zsh\\|fish` | y |\n| `log` | z |\n"
	for _, tt := range []struct {
		command string
		want    bool
	}{
		{"run", true}, {"cache add", true}, {"cache add-git", false}, {"cache", true},
		{"completion zsh", true}, {"completion fish", true}, {"completion ksh", false},
		{"log", true}, {"logs", false}, {"explain", false},
	} {
		if got := listed(readme, tt.command); got != tt.want {
			t.Errorf("listed(%q) = %v, want %v", tt.command, got, tt.want)
		}
	}
}
