package runner_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/sign"
	"github.com/porterkit/bootstrap/runner/verify"
)

// verified is a one-component recipe whose verify: step pins out.txt's
// sha256 (SUM).
const verified = `name: verified
components:
  - name: c
    steps:
      - {name: build, run: 'echo built > out.txt'}
    verify:
      file: out.txt
      sha256: SUM
`

func verifiedRecipe(sum string) string { return strings.Replace(verified, "SUM", sum, 1) }

// TestCacheRestoreThatDoesNotVerify: the verify step is not in a
// component's key (a restore runs it again), so a recipe that pins
// another digest finds the cached component, restores it, sees it differ,
// forgets it and builds it here, where the verify step fails as it must.
func TestCacheRestoreThatDoesNotVerify(t *testing.T) {
	good := sha256.Sum256([]byte("built\n"))
	store := "file://" + t.TempDir()
	a := openSession(t, verifiedRecipe(hex.EncodeToString(good[:])), runner.Config{BuildCache: runner.CacheConfig{To: store}})
	if _, out, err := runSession(a, runner.RunOptions{SkipDoctor: true}); err != nil || !strings.Contains(out, "pushed c to "+store) {
		t.Fatalf("machine a: %v\n%s", err, out)
	}
	aKey, _ := sign.Dir(os.Getenv) // BOOTSTRAP_KEY_DIR of a's session
	pub := filepath.Join(aKey, sign.PublicName)
	if _, err := os.Stat(pub); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)
	b := openSession(t, verifiedRecipe(wrong), runner.Config{BuildCache: runner.CacheConfig{From: []string{store}, Trust: []string{pub}}})
	_, out, err := runSession(b, runner.RunOptions{SkipDoctor: true})
	var mm *verify.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("machine b: %v, want the verify step's mismatch\n%s", err, out)
	}
	for _, want := range []string{"restored c from " + store, "does not verify", "building it here instead", "start c:build"} {
		if !strings.Contains(out, want) {
			t.Errorf("machine b's output lacks %q:\n%s", want, out)
		}
	}
	// What is on disk was built here, not restored.
	cp, err := os.ReadFile(filepath.Join(b.Plan().WorkDir, "state", "c", "build.json"))
	if err != nil || strings.Contains(string(cp), `"restored"`) {
		t.Errorf("c:build's checkpoint after the local build: %v\n%s", err, cp)
	}
}
