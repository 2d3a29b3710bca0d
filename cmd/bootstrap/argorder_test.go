package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/cmd/internal/cliargs"
)

// TestReorderArgs checks, on the real command tree, that flags after
// operands move in front of them with their values, global flags move in
// front of the command, and `--`, `help` and completion are kept right.
func TestReorderArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		// The forms of issue 19, as the README and doctor's usage write them.
		{"cache add-git DIR --url URL v1.10.2", "cache add-git --url URL DIR v1.10.2"},
		{"doctor RECIPE --install", "doctor --install RECIPE"},
		{"record RECIPE --json", "record --json RECIPE"},
		// Already in order: unchanged.
		{"run --target arm64 -j 2 RECIPE", "run --target arm64 -j 2 RECIPE"},
		{"run", "run"},
		{"", ""},
		// Values go with their flags, whatever they look like.
		{"run RECIPE -j -3", "run -j -3 RECIPE"},
		{"run RECIPE --to go:make --only=x --keep-going", "run --to go:make --only=x --keep-going RECIPE"},
		{"run RECIPE --target arm64 --force a --force b", "run --target arm64 --force a --force b RECIPE"},
		// A bool flag takes no value unless written --x=v.
		{"run RECIPE --dry-run other", "run --dry-run RECIPE other"},
		{"run RECIPE --dry-run=false", "run --dry-run=false RECIPE"},
		{"run RECIPE -n -k", "run -n -k RECIPE"},
		// Subcommands of cache and patch.
		{"patch save RECIPE go --workdir W", "patch save --workdir W RECIPE go"},
		{"patch check RECIPE --target arm64", "patch check --target arm64 RECIPE"},
		{"cache add FILE1 --cache D FILE2", "cache add --cache D FILE1 FILE2"},
		{"cache add - --cache D", "cache add --cache D -"},
		// -- ends the flags; it stays in front of the operands.
		{"run RECIPE --plain -- --weird", "run --plain -- RECIPE --weird"},
		{"explain -- RECIPE -x", "explain -- RECIPE -x"},
		// Global flags after a command go in front of it.
		{"run RECIPE --quiet", "--quiet run RECIPE"},
		{"run -q RECIPE -j 2", "-q run -j 2 RECIPE"},
		{"patch save R C -V", "-V patch save R C"},
		// An unknown flag moves alone (its error stays the same).
		{"run RECIPE --nosuch value", "run --nosuch RECIPE value"},
		// A flag missing its value is left for the parser to refuse.
		{"run RECIPE --target", "run --target RECIPE"},
		// Unknown commands are left for the app to name.
		{"nosuch --x y", "nosuch --x y"},
		// help CMD [SUB] shows that command's help.
		{"help", "--help"},
		{"help run", "run --help"},
		{"help patch save", "patch save --help"},
		{"help run extra", "run --help"},
		{"help nosuch", "help nosuch"},
		{"help patch nosuch", "help patch nosuch"},
		// Completion: the completion flag stays last.
		{"run RECIPE --ta --generate-bash-completion", "run --ta RECIPE --generate-bash-completion"},
		{"run --target --generate-bash-completion", "run --target --generate-bash-completion"},
		{"--generate-bash-completion", "--generate-bash-completion"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			in := append([]string{"bootstrap"}, strings.Fields(tt.in)...)
			want := append([]string{"bootstrap"}, strings.Fields(tt.want)...)
			if got := cliargs.Reorder(newApp(), in); !reflect.DeepEqual(got, want) {
				t.Errorf("Reorder(%q)\n got %q\nwant %q", in, got, want)
			}
		})
	}
}

// TestReorderArgsKeepsInput: the caller's slice (os.Args) is not changed.
func TestReorderArgsKeepsInput(t *testing.T) {
	in := []string{"bootstrap", "doctor", "R", "--install"}
	cliargs.Reorder(newApp(), in)
	if want := []string{"bootstrap", "doctor", "R", "--install"}; !reflect.DeepEqual(in, want) {
		t.Errorf("input changed to %q", in)
	}
}

// BenchmarkCLIArgs measures what reordering adds to every invocation
// (building the command tree once more and walking it).
func BenchmarkCLIArgs(b *testing.B) {
	args := strings.Fields("bootstrap cache add-git DIR --url URL v1.10.2 --cache D")
	for b.Loop() {
		cliargs.Reorder(newApp(), args)
	}
}
