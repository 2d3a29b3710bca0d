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
			if !strings.Contains(readme, "\n| `"+name+" ") && !strings.Contains(readme, "\n| `"+name+"`") {
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
