package expand

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

func lookupIn(m map[string]string) Lookup {
	return func(name string) (string, error) {
		v, ok := m[name]
		if !ok {
			return "", fmt.Errorf("unknown name %q", name)
		}
		return v, nil
	}
}

func TestPlain(t *testing.T) {
	vars := map[string]string{"work": "/w", "go_version": "1.19.8", "sp": "a b"}
	tests := []struct {
		in, want string
	}{
		{"no refs", "no refs"},
		{"${{ work }}/install", "/w/install"},
		{"${{work}}-${{ go_version }}", "/w-1.19.8"},
		{"${{ sp }}", "a b"},
		{"shell ${x} is left alone", "shell ${x} is left alone"},
	}
	for _, tt := range tests {
		got, err := Plain(tt.in, lookupIn(vars))
		if err != nil || got != tt.want {
			t.Errorf("Plain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		in      string
		off     int
		wantMsg string
	}{
		{"abc ${{ work", 4, "unclosed"},
		{"x ${{ a b }}", 2, "bad reference"},
		{"ab ${{ nope }}", 3, `unknown name "nope"`},
	}
	for _, tt := range tests {
		_, err := Plain(tt.in, lookupIn(map[string]string{}))
		if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Fatalf("Plain(%q) error = %v, want %q", tt.in, err, tt.wantMsg)
		}
		var se *SyntaxError
		var re *RefError
		switch {
		case errors.As(err, &se):
			if se.Off != tt.off {
				t.Errorf("%q: offset %d, want %d", tt.in, se.Off, tt.off)
			}
		case errors.As(err, &re):
			if re.Off != tt.off {
				t.Errorf("%q: offset %d, want %d", tt.in, re.Off, tt.off)
			}
		default:
			t.Errorf("%q: error %T has no offset", tt.in, err)
		}
	}
}

// TestShellInjection runs the expanded scripts in a real shell: whatever the
// value and however the author quoted the reference, the script must print
// the value verbatim and run nothing else.
func TestShellInjection(t *testing.T) {
	values := []string{
		"plain",
		"with space",
		"it's",
		`dq"uote`,
		"$(touch /tmp/pwned)",
		"`id`",
		"a;echo INJECTED",
		`back\slash`,
		"$HOME",
		"new\nline",
	}
	scripts := []string{
		`printf '%s' ${{ v }}`,
		`printf '%s' "${{ v }}"`,
		`printf '%s' '${{ v }}'`,
		`x=${{ v }}; printf '%s' "$x"`,
	}
	for _, v := range values {
		for _, script := range scripts {
			out, err := Shell(script, lookupIn(map[string]string{"v": v}))
			if err != nil {
				t.Fatal(err)
			}
			got, err := exec.Command("/bin/sh", "-e", "-c", out).Output()
			if err != nil {
				t.Fatalf("script %q with %q: %v (expanded: %s)", script, v, err, out)
			}
			if string(got) != v {
				t.Errorf("script %q with value %q printed %q (expanded: %s)", script, v, got, out)
			}
		}
	}
}

func TestQuoteKeepsSafeWords(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin": "/usr/bin",
		"a b":      "'a b'",
		"":         "''",
		"it's":     `'it'\''s'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
