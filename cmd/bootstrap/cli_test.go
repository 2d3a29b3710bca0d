package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The command-line conventions of issue 19, each checked on the real
// binary: flags after operands, unknown commands and help, exit 2 for bad
// usage of every kind, --quiet, NO_COLOR/TERM=dumb, validate --json, shell
// completion and the man page.

// taggedRepo makes a repository with one commit tagged tag and returns it.
func taggedRepo(t *testing.T, tag string) string {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"-c", "user.name=P", "-c", "user.email=p@example.org", "commit", "-q", "--allow-empty", "-m", "one"},
		{"tag", tag},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// TestFlagsAfterOperands runs the three forms issue 19 quotes from the
// README and doctor's usage line.
func TestFlagsAfterOperands(t *testing.T) {
	dir := copyFixture(t, "chain")
	repo := taggedRepo(t, "v1.10.2")
	cache := filepath.Join(dir, "cache")

	r := bs(t, dir, "cache", "add-git", repo, "--url", "https://example.org/x.git", "v1.10.2", "--cache", cache)
	if r.code != 0 || strings.Contains(r.stderr, "Required flag") {
		t.Errorf("cache add-git DIR --url URL v1.10.2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "git", "*")); len(m) == 0 {
		t.Errorf("cache add-git put nothing under %s/git", cache)
	}

	// The chain needs no Debian package, so --install has nothing to do.
	r = bs(t, dir, "doctor", "chain.yaml", "--install")
	if r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Errorf("doctor RECIPE --install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r := bs(t, dir, "run", "chain.yaml", "--plain", "-j", "2"); r.code != 0 {
		t.Fatalf("run RECIPE --plain -j 2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = bs(t, dir, "record", "chain.yaml", "--json")
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || st.PredicateType == "" {
		t.Errorf("record RECIPE --json: exit %d, decode: %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}

	// -- ends the flags: what follows is an operand even if it starts
	// with a dash (here: a second recipe, which validate reports).
	r = bs(t, dir, "validate", "chain.yaml", "--", "--json")
	if r.code != 2 || !strings.Contains(r.stdout, "chain.yaml: ok") || !strings.Contains(r.stderr, "--json: no such recipe file") {
		t.Errorf("validate RECIPE -- --json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestUnknownCommandAndHelp: an unknown command or flag is bad usage (exit
// 2) that says where to look; help CMD shows that command's help.
func TestUnknownCommandAndHelp(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args       []string
		code       int
		out, err   string // substrings of stdout and stderr
		notOut     string
		stderrOnly bool
	}{
		{args: []string{"nosuch"}, code: 2, err: `bootstrap: unknown command "nosuch"; see bootstrap --help` + "\n", stderrOnly: true},
		{args: []string{"ruun", "x.yaml"}, code: 2, err: `unknown command "ruun"; see bootstrap --help (did you mean run?)`, stderrOnly: true},
		{args: []string{"cache", "nosuch"}, code: 2, err: `unknown command "cache nosuch"; see bootstrap cache --help`, stderrOnly: true},
		{args: []string{"patch", "sav"}, code: 2, err: `(did you mean save?)`, stderrOnly: true},
		{args: []string{"help", "nosuch"}, code: 2, err: `no help for "nosuch"`, stderrOnly: true},
		// A bad flag is one line on stderr, not the command's help.
		{args: []string{"run", "x.yaml", "--nosuch"}, code: 2, err: "bootstrap: run: flag provided but not defined: -nosuch; see bootstrap run --help\n", stderrOnly: true},
		{args: []string{"run", "-j", "abc", "x.yaml"}, code: 2, err: `run: invalid value "abc" for flag -j`, stderrOnly: true},
		{args: []string{"patch", "save", "--bad"}, code: 2, err: "patch save: flag provided but not defined: -bad; see bootstrap patch save --help", stderrOnly: true},
		{args: []string{"--nosuch"}, code: 2, err: "bootstrap: flag provided but not defined: -nosuch; see bootstrap --help", stderrOnly: true},
		{args: []string{"help", "run"}, code: 0, out: "bootstrap run - build a recipe", notOut: "GLOBAL OPTIONS"},
		{args: []string{"help", "patch", "save"}, code: 0, out: "bootstrap patch save - write the work tree's new commits", notOut: "GLOBAL OPTIONS"},
		{args: []string{"help"}, code: 0, out: "GLOBAL OPTIONS"},
		{args: []string{}, code: 0, out: "COMMANDS:"},
		{args: []string{"cache"}, code: 0, out: "add-git"},
		{args: []string{"--version"}, code: 0, out: "bootstrap"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"bootstrap"}, tt.args...), " "), func(t *testing.T) {
			r := bs(t, dir, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.out) || !strings.Contains(r.stderr, tt.err) ||
				(tt.notOut != "" && strings.Contains(r.stdout, tt.notOut)) || (tt.stderrOnly && r.stdout != "") {
				t.Errorf("exit %d, want %d; stdout want %q (not %q), stderr want %q\nstdout:\n%s\nstderr:\n%s",
					r.code, tt.code, tt.out, tt.notOut, tt.err, r.stdout, r.stderr)
			}
		})
	}
}

// TestRecipePathErrors: a missing recipe or a directory given as one is
// exit 2 with one message naming the path, whatever the command.
func TestRecipePathErrors(t *testing.T) {
	dir := copyFixture(t, "chain")
	for _, c := range []struct{ path, msg string }{
		{"nosuch.yaml", "nosuch.yaml: no such recipe file"},
		{"text", "text: is a directory, not a recipe file"},
	} {
		for _, cmd := range [][]string{{"run"}, {"plan"}, {"validate"}, {"fetch"}, {"doctor"}, {"record"}, {"explain", "", "tool:build"}, {"clean"}} {
			args := append(append([]string(nil), cmd...), c.path)
			if len(cmd) == 3 {
				args = []string{cmd[0], c.path, cmd[2]}
			}
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := bs(t, dir, args...)
				if r.code != 2 || strings.Count(r.stderr, c.msg) != 1 {
					t.Errorf("exit %d, want 2 with %q once in stderr:\n%s%s", r.code, c.msg, r.stdout, r.stderr)
				}
			})
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".bootstrap")); err == nil {
		t.Errorf("a command made a work dir for a recipe that does not exist")
	}
}

// TestUnknownTargetExit2: an unknown --target is exit 2 and lists what to
// choose from.
func TestUnknownTargetExit2(t *testing.T) {
	dir := copyFixture(t, "chain")
	for _, cmd := range []string{"run", "plan"} {
		r := bs(t, dir, cmd, "chain.yaml", "--target", "sparc99")
		want := `chain.yaml: unknown target "sparc99": the recipe lists no targets; known targets are amd64, 386, arm64`
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s --target sparc99 (no targets in the recipe): exit %d, want 2 with %q\n%s", cmd, r.code, want, r.stderr)
		}
	}
	edit(t, filepath.Join(dir, "chain.yaml"), "name: chain\n", "name: chain\ntargets: [amd64, arm64, ppc64le]\n")
	r := bs(t, dir, "run", "--target", "sparc99", "chain.yaml")
	want := `chain.yaml:4:11: unknown target "sparc99": the recipe builds for amd64, arm64, ppc64le`
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("run --target sparc99: exit %d, want 2 with %q\n%s", r.code, want, r.stderr)
	}
}

// TestFlagMisuse: flag values and combinations that used to be ignored or
// did something unasked are usage errors (exit 2) that run no step.
func TestFlagMisuse(t *testing.T) {
	dir := copyFixture(t, "chain")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "chain.yaml", "--rootfs", "/"}, "--rootfs / runs the steps in that root file system under emulation: add --emulate (or drop --rootfs)"},
		{[]string{"plan", "--rootfs", "/", "chain.yaml"}, "add --emulate"},
		{[]string{"doctor", "chain.yaml", "--rootfs", "/"}, "add --emulate"},
		{[]string{"run", "chain.yaml", "-j", "-3"}, "-j/--jobs is the number of build steps run at once: 1 or more (got -3)"},
		{[]string{"run", "chain.yaml", "--jobs=0"}, "1 or more (got 0)"},
		{[]string{"plan", "chain.yaml", "-j", "-1"}, "1 or more (got -1)"},
		{[]string{"run", "chain.yaml", "--only", "tool", "--from", "data"}, "--only and --from do not go together"},
		{[]string{"run", "chain.yaml", "--to", "tool", "--from", "report"}, "--to tool with --from report select no step"},
		{[]string{"run", "chain.yaml", "--to", "nosuch"}, `--to: no step or component "nosuch"`},
		{[]string{"run", "chain.yaml", "--quiet", "-v"}, "--quiet and --verbose contradict each other"},
		{[]string{"-q", "run", "chain.yaml", "--dry-run"}, "--quiet and --dry-run contradict each other"},
		{[]string{"cache", "add-git", "repo"}, "cache add-git: --url URL is required"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := bs(t, dir, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || len(started(r.stdout)) > 0 {
				t.Errorf("exit %d, want 2 with %q, started %v\n%s%s", r.code, tt.want, started(r.stdout), r.stdout, r.stderr)
			}
		})
	}
}

// TestPlanForeignTarget: plan refuses a target this host cannot build
// without --emulate, with exactly run's message and hint.
func TestPlanForeignTarget(t *testing.T) {
	if runtime.GOARCH == "ppc64le" {
		t.Skip("power8.yaml is native here")
	}
	recipe, err := filepath.Abs("../../recipes/power8.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{{"--target", "ppc64le", recipe}, {recipe}} {
		run := bs(t, dir, append([]string{"run"}, args...)...)
		plan := bs(t, dir, append([]string{"plan"}, args...)...)
		if run.code != 2 || plan.code != 2 || plan.stderr != run.stderr || !strings.Contains(plan.stderr, "--emulate") {
			t.Errorf("%v: run exit %d, plan exit %d, want 2 and the same message naming --emulate\nrun:  %splan: %s%s",
				args, run.code, plan.code, run.stderr, plan.stderr, plan.stdout)
		}
	}
	// With --emulate, plan shows the steps (pending: nothing is built).
	r := bs(t, dir, "plan", "--target", "ppc64le", "--emulate", "--cache", filepath.Join(dir, "cache"), recipe)
	if r.code != 0 || !strings.Contains(r.stdout, "pending") {
		t.Errorf("plan --emulate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestQuiet: --quiet (global, before or after the command) prints only the
// final summary line, and a failure.
func TestQuiet(t *testing.T) {
	dir := copyFixture(t, "chain")
	r := bs(t, dir, "run", "chain.yaml", "--quiet")
	want := fmt.Sprintf("ran 7 of 7 steps; work dir %s\n", hostWork(dir, "chain"))
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("run --quiet: exit %d\nstdout %q\nwant   %q\nstderr %q", r.code, r.stdout, want, r.stderr)
	}
	r = bs(t, dir, "-q", "run", "chain.yaml")
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d all 7 steps are done; nothing to run\n$`).MatchString(r.stdout) || r.code != 0 {
		t.Errorf("-q run (nothing to do): exit %d\n%q", r.code, r.stdout)
	}
	edit(t, filepath.Join(dir, "chain.yaml"), "run: cc -O2", "run: echo broken; exit 4; cc -O2")
	r = bs(t, dir, "run", "-q", "chain.yaml")
	if r.code != 1 || !regexp.MustCompile(`^\d\d:\d\d:\d\d FAIL  tool:build: .*\n$`).MatchString(r.stdout) ||
		!strings.Contains(r.stderr, "step tool:build failed (exit 4)") {
		t.Errorf("run -q, failing: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// onTerminal runs the binary with its output on a real pseudo-terminal and
// returns what the terminal received.
func onTerminal(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 120}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"), "NO_COLOR=", "TERM=xterm")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = tty, tty
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			out.Write(buf[:n])
			if err != nil { // EIO once the last writer closed its side
				return
			}
		}
	}()
	err = cmd.Run()
	tty.Close()
	<-done
	if err != nil {
		t.Fatalf("bootstrap %v on a terminal: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// TestNoColorAndDumbTerminal: on a terminal run draws its progress bar;
// NO_COLOR or TERM=dumb gives the plain timestamped lines instead.
func TestNoColorAndDumbTerminal(t *testing.T) {
	plainLine := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d start tool:build\r?$`)
	tests := []struct {
		name  string
		env   []string
		plain bool
	}{
		{"TERM=xterm", nil, false},
		{"NO_COLOR=1", []string{"NO_COLOR=1"}, true},
		{"TERM=dumb", []string{"TERM=dumb"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t, "chain")
			out := onTerminal(t, dir, tt.env, "run", "chain.yaml")
			bar := strings.Contains(out, "7/7")
			if plainLine.MatchString(out) != tt.plain || bar == tt.plain {
				t.Errorf("plain lines %v, progress bar %v; want plain %v:\n%q", plainLine.MatchString(out), bar, tt.plain, out)
			}
			if !strings.Contains(out, "ran 7 of 7 steps") {
				t.Errorf("no summary line:\n%q", out)
			}
		})
	}
}

// TestValidateJSON decodes validate --json for a valid recipe, an invalid
// one and a missing one, with the shape documented in its help.
func TestValidateJSON(t *testing.T) {
	dir := copyFixture(t, "chain")
	bad := filepath.Join(dir, "bad.yaml")
	data, err := os.ReadFile(filepath.Join(dir, "chain.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, bytes.Replace(data, []byte("needs: [tool]"), []byte("needs: [tol]"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	type problem struct {
		File      string `json:"file"`
		Line      int    `json:"line"`
		Col       int    `json:"col"`
		Component string `json:"component"`
		Step      string `json:"step"`
		Message   string `json:"message"`
	}
	type report struct {
		OK       bool `json:"ok"`
		Problems int  `json:"problems"`
		Recipes  []struct {
			File     string    `json:"file"`
			OK       bool      `json:"ok"`
			Problems []problem `json:"problems"`
		} `json:"recipes"`
	}
	decode := func(r result) report {
		t.Helper()
		var rep report
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("decode: %v\n%s", err, r.stdout)
		}
		return rep
	}

	r := bs(t, dir, "validate", "--json", "chain.yaml")
	rep := decode(r)
	if r.code != 0 || !rep.OK || rep.Problems != 0 || len(rep.Recipes) != 1 || !rep.Recipes[0].OK ||
		rep.Recipes[0].Problems == nil || len(rep.Recipes[0].Problems) != 0 {
		t.Errorf("valid recipe: exit %d, %+v", r.code, rep)
	}

	r = bs(t, dir, "validate", "chain.yaml", "bad.yaml", "nosuch.yaml", "--json")
	rep = decode(r)
	want := []problem{
		{File: "bad.yaml", Line: 15, Col: 13, Component: "data", Message: `needs unknown component "tol" (did you mean "tool"?)`},
		{File: "nosuch.yaml", Message: "no such recipe file"},
	}
	if r.code != 2 || rep.OK || rep.Problems != 2 || len(rep.Recipes) != 3 || !rep.Recipes[0].OK || rep.Recipes[1].OK ||
		len(rep.Recipes[1].Problems) != 1 || rep.Recipes[1].Problems[0] != want[0] ||
		len(rep.Recipes[2].Problems) != 1 || rep.Recipes[2].Problems[0] != want[1] {
		t.Errorf("exit %d, report %+v\nwant problems %+v\nstderr %s", r.code, rep, want, r.stderr)
	}
}

// TestCompletion checks the scripts: bash's parses and, run by a real bash
// against the binary, completes commands, subcommands and flags; fish's
// names every command; an unknown shell is exit 2.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	r := bs(t, dir, "completion", "bash")
	script := filepath.Join(dir, "bootstrap.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); r.code != 0 || err != nil {
		t.Fatalf("bash -n: exit %d, %v\n%s", r.code, err, out)
	}
	tests := []struct {
		line string // what is typed before <TAB>
		want string // the completions, space-separated
	}{
		{"bootstrap ru", "run"},
		{"bootstrap c", "clean cache completion"},
		{"bootstrap patch s", "save"},
		{"bootstrap cache add-git --u", "--url"},
		{"bootstrap run --tar", "--target"},
		{"bootstrap run chain.yaml --keep", "--keep-going"},
		{"bootstrap ma", ""}, // the man command is hidden
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			words := strings.Fields(tt.line)
			prog := fmt.Sprintf(`source %q
COMP_WORDS=(%s); COMP_CWORD=%d
_bootstrap_complete
echo "${COMPREPLY[*]}"`, script, strings.Join(words, " "), len(words)-1)
			cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != tt.want {
				t.Errorf("%s<TAB> = %q (%v), want %q", tt.line, got, err, tt.want)
			}
		})
	}

	r = bs(t, dir, "completion", "fish")
	for _, want := range []string{"complete -c bootstrap", "-a 'run'", "-a 'add-git'", "-l target"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("completion fish: exit %d, lacks %q", r.code, want)
		}
	}
	r = bs(t, dir, "completion", "zsh")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "#compdef bootstrap\n") {
		t.Errorf("completion zsh: exit %d\n%s", r.code, r.stdout)
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		if out, err := exec.Command(zsh, "-n", "-c", r.stdout).CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, out)
		}
	}
	if r := bs(t, dir, "completion", "tcsh"); r.code != 2 || !strings.Contains(r.stderr, `no completion for shell "tcsh"`) {
		t.Errorf("completion tcsh: exit %d\n%s", r.code, r.stderr)
	}
}

// TestManPage renders `bootstrap man` (what make man writes) with groff:
// no warnings, and every visible command and its flags are in it.
func TestManPage(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("no groff (scripts/deps.sh test installs groff-base)")
	}
	dir := t.TempDir()
	r := bs(t, dir, "man")
	if r.code != 0 || !strings.HasPrefix(r.stdout, ".nh\n.TH bootstrap 1") {
		t.Fatalf("man: exit %d\n%.300s%s", r.code, r.stdout, r.stderr)
	}
	for _, dev := range []string{"utf8", "ascii"} {
		cmd := exec.Command(groff, "-man", "-T"+dev, "-ww")
		cmd.Stdin = strings.NewReader(r.stdout)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || errb.Len() > 0 {
			t.Errorf("groff -T%s: %v\n%s", dev, err, errb.String())
		}
		text := regexp.MustCompile(".\b").ReplaceAllString(out.String(), "") // overstrike bold
		for _, want := range []string{"validate", "add-git", "--workdir", "--generate", "Exit codes: 0 success"} {
			if want == "--generate" {
				if strings.Contains(text, want) {
					t.Errorf("groff -T%s: the page shows the completion flag", dev)
				}
				continue
			}
			if !strings.Contains(text, want) {
				t.Errorf("groff -T%s: the page lacks %q", dev, want)
			}
		}
	}
}
