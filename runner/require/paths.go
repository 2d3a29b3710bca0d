package require

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// LookPath finds tool like the step's shell would: a name with a slash is
// used as is, a bare name is searched on the PATH in env (not this
// process's PATH, which the step does not inherit). It returns an error
// naming the tool and the PATH searched.
func LookPath(tool string, env []string) (string, error) {
	if strings.Contains(tool, "/") {
		if err := executable(tool); err != nil {
			return "", fmt.Errorf("tool %s: %w", tool, err)
		}
		return tool, nil
	}
	path := EnvValue(env, "PATH")
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, tool)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("tool %s not found on PATH=%s", tool, path)
}

// Place is where a tool is looked up and run: this host, or the root file
// system an executor runs steps in. Version checks go through it so that
// they see exactly the programs the step will see.
type Place interface {
	// Output runs argv with env and returns stdout and stderr.
	Output(ctx context.Context, argv, env []string) ([]byte, error)
	// LookPath finds a program on env's PATH.
	LookPath(ctx context.Context, name string, env []string) (string, error)
	// ReadFile reads a file.
	ReadFile(ctx context.Context, path string) ([]byte, error)
}

// Local is this host as a Place.
type Local struct{}

// Output implements Place.
func (Local) Output(ctx context.Context, argv, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	return cmd.CombinedOutput()
}

// LookPath implements Place.
func (Local) LookPath(ctx context.Context, name string, env []string) (string, error) {
	return LookPath(name, env)
}

// ReadFile implements Place.
func (Local) ReadFile(ctx context.Context, path string) ([]byte, error) { return os.ReadFile(path) }

// executable returns nil when p is a regular file with an execute bit.
func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// EnvValue returns the last NAME=value of name in env, the one exec uses.
func EnvValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// displayTool writes $GOROOT_BOOTSTRAP back into a tool path under it, so
// the message reads as the recipe and make.bash speak.
func displayTool(tool string, env []string) string {
	if gb := EnvValue(env, "GOROOT_BOOTSTRAP"); gb != "" {
		if rest, ok := strings.CutPrefix(tool, strings.TrimSuffix(gb, "/")+"/"); ok {
			return "$GOROOT_BOOTSTRAP/" + rest
		}
	}
	return tool
}

// firstLine returns s's first non-empty line, trimmed.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}
