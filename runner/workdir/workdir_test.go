package workdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// layout writes files (name → content; a name ending in / is a directory)
// under dir.
func layout(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// legacyLayout is what a run of the bootstrap before the marker leaves.
var legacyLayout = map[string]string{
	"lock":                      "pid 123\nsince 2026-11-01T10:00:00Z\ncmd bootstrap run x.yaml\n",
	"state/go/make.json":        "{}",
	"logs/go/make.log":          "ok\n",
	"build/go/":                 "",
	"src/go/VERSION":            "go1.19.8",
	"install/go/bin/go":         "",
	"provenance.json":           "{}",
	"running/":                  "",
	"home/.config/go/telemetry": "off",
}

func TestEnsure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string // nil: the directory does not exist
		want    Outcome
		wantErr string
	}{
		{"missing", nil, Created, ""},
		{"empty", map[string]string{}, Created, ""},
		{"a killed marker write", map[string]string{MarkerName + ".tmp-123": "{"}, Created, ""},
		{"marked", map[string]string{MarkerName: `{"format":1,"recipe":"x","target":"amd64"}`, "state/": ""}, Existing, ""},
		{"legacy", legacyLayout, Adopted, ""},
		{"legacy, logs only", map[string]string{"lock": "pid 9\n", "logs/": ""}, Adopted, ""},
		{"foreign", map[string]string{"x": "", "sub/y": "", ".git/HEAD": ""}, 0, "it holds .git, sub, x but no .bootstrap-workdir marker"},
		{"a lock file that is not ours", map[string]string{"lock": "mine\n", "state/": ""}, 0, "no .bootstrap-workdir marker"},
		{"lock without state or logs", map[string]string{"lock": "pid 9\n"}, 0, "no .bootstrap-workdir marker"},
		{"newer format", map[string]string{MarkerName: `{"format":99}`}, 0, "has format 99; this bootstrap knows format 1 only"},
		{"torn marker", map[string]string{MarkerName: `{"form`}, 0, "cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "work")
			if tc.files != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				layout(t, dir, tc.files)
			}
			before := listing(dir)
			got, err := Ensure(dir, "x", "amd64")
			if tc.wantErr != "" {
				var we *Error
				if !errors.As(err, &we) || we.Dir != dir || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Ensure = %v, want an *Error naming %s with %q", err, dir, tc.wantErr)
				}
				if after := listing(dir); after != before {
					t.Errorf("a refused directory changed: %q → %q", before, after)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Ensure = %v, %v; want %v", got, err, tc.want)
			}
			m, err := Read(dir)
			if err != nil || m.Format != Format {
				t.Fatalf("marker after Ensure: %+v, %v", m, err)
			}
			if got != Existing && (m.Recipe != "x" || m.Target != "amd64" || m.Created.IsZero() || m.Adopted != (got == Adopted)) {
				t.Errorf("marker = %+v", m)
			}
			if tc.files != nil {
				for name := range tc.files {
					if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
						t.Errorf("%s is gone: %v", name, err)
					}
				}
			}
			if again, err := Ensure(dir, "x", "amd64"); err != nil || again != Existing {
				t.Errorf("Ensure again = %v, %v; want Existing", again, err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"marked", map[string]string{MarkerName: `{"format":1}`}, ""},
		{"foreign", map[string]string{"x": "", "sub/y": "", ".git/HEAD": ""}, "is not a bootstrap work dir (it has no .bootstrap-workdir marker; it holds .git, sub, x); refusing to remove anything in it"},
		{"empty", map[string]string{}, "it holds nothing"},
		{"legacy", legacyLayout, "was made by an earlier bootstrap and has no .bootstrap-workdir marker yet; refusing to remove anything in it: `bootstrap run` adopts it"},
		{"missing", nil, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "work")
			if tc.files != nil {
				os.MkdirAll(dir, 0o755)
				layout(t, dir, tc.files)
			}
			_, err := Check(dir, "remove anything in it")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var we *Error
			if !errors.As(err, &we) || !strings.Contains(err.Error(), "work dir "+dir+": ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Check = %v, want %q", err, tc.wantErr)
			}
			if errors.Is(err, fs.ErrNotExist) != (tc.files == nil) {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v for %s", !(tc.files == nil), tc.name)
			}
		})
	}
}

func TestOldDefaultNotice(t *testing.T) {
	t.Chdir(t.TempDir())
	if msg := OldDefaultNotice("chain", "arm64"); msg != "" {
		t.Errorf("no old dir, yet: %q", msg)
	}
	os.MkdirAll(OldDefault("chain"), 0o755)
	want := "./.bootstrap/chain is no longer the default work dir of chain: it is now ./.bootstrap/chain-arm64, one per target; to keep using the old one, pass --workdir .bootstrap/chain"
	if msg := OldDefaultNotice("chain", "arm64"); msg != want {
		t.Errorf("notice = %q, want %q", msg, want)
	}
	os.MkdirAll(Default("chain", "arm64"), 0o755)
	if msg := OldDefaultNotice("chain", "arm64"); msg != "" {
		t.Errorf("the new dir exists, yet: %q", msg)
	}
}

// listing is dir's entries, recursively, as one string.
func listing(dir string) string {
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		b.WriteString(p + "\n")
		return nil
	})
	return b.String()
}
