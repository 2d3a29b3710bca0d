package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/porterkit/bootstrap/bootstrap/treehash"
	"github.com/porterkit/bootstrap/runner/provenance"
)

// signedRecipe builds a file and a tree in one component and a file in
// another; host.tools names a tool whose digest is a host fact, so the
// test can change the host between runs without changing a signature
// (host.tools is a doctor check, not a step input).
const signedRecipe = `name: signed
host:
  tools: [signtool]
components:
  - name: a
    steps:
      - name: make
        run: mkdir -p tree && echo hello > tree/f && printf 'one\n' > out.bin
    outputs:
      - ${{ build }}/out.bin
      - ${{ build }}/tree
  - name: b
    needs: [a]
    steps:
      - name: make
        run: echo b > b.txt
    outputs:
      - ${{ build }}/b.txt
`

// sslibDSSE is a verifier we did not write: securesystemslib's own DSSE
// Envelope (securesystemslib.dsse, 1.x: Debian 13's package, which
// scripts/sslib.sh unpacks for the tests) reads the envelope, builds the
// PAE and checks the ed25519 signature against our public key.
const sslibDSSE = `
import json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from securesystemslib.exceptions import VerificationError
env = Envelope.from_dict(json.load(open(sys.argv[1])))
keydict = json.load(open(sys.argv[2]))
key = SSlibKey.from_dict(keydict.pop("keyid"), keydict)
assert env.payload_type == "application/vnd.in-toto+json", env.payload_type
try:
    ok = env.verify([key], 1)
except VerificationError as e:
    print("rejected:", e)
    sys.exit(1)
print("verified", sorted(ok)[0][:16], json.loads(env.payload)["predicateType"])
`

// sslibSignature is the fallback where only Debian 12's
// python3-securesystemslib (0.26, no DSSE support) is there: the script
// reads the envelope as the DSSE spec defines it, builds the PAE from the
// spec, and leaves the ed25519 verification of our public key (read with
// SSlibKey.from_dict) to securesystemslib.
const sslibSignature = `
import base64, json, sys
from securesystemslib.signer import SSlibKey, Signature
from securesystemslib.exceptions import UnverifiedSignatureError
env = json.load(open(sys.argv[1]))
keydict = json.load(open(sys.argv[2]))
key = SSlibKey.from_dict(keydict.pop("keyid"), keydict)
assert env["payloadType"] == "application/vnd.in-toto+json", env["payloadType"]
payload = base64.b64decode(env["payload"])
ptype = env["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
for s in env["signatures"]:
    try:
        key.verify_signature(Signature(s["keyid"], base64.b64decode(s["sig"]).hex()), pae)
    except UnverifiedSignatureError as e:
        print("rejected:", e)
        sys.exit(1)
    print("verified", s["keyid"][:16], json.loads(payload)["predicateType"])
    sys.exit(0)
print("no signature")
sys.exit(1)
`

// sslibPath is where scripts/sslib.sh unpacks Debian 13's
// securesystemslib.
const sslibPath = "/var/cache/bootstrap-pydeps"

// sslib returns a command that runs a verifier script with
// securesystemslib: the DSSE one where securesystemslib.dsse is there
// (sslibPath, or an installed 1.x), else the signature-only one with
// Debian 12's; it skips without either.
func sslib(t *testing.T) func(args ...string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		for _, pypath := range []string{sslibPath, ""} {
			probe := exec.Command(p, "-c", "import securesystemslib.dsse")
			probe.Env = append(os.Environ(), "PYTHONPATH="+pypath)
			if probe.Run() != nil {
				continue
			}
			t.Logf("verifier: securesystemslib.dsse (%s, PYTHONPATH=%q)", p, pypath)
			script := filepath.Join(dir, "dsse.py")
			os.WriteFile(script, []byte(sslibDSSE), 0o644)
			return func(args ...string) *exec.Cmd {
				c := exec.Command(p, append([]string{script}, args...)...)
				c.Env = append(os.Environ(), "PYTHONPATH="+pypath)
				return c
			}
		}
	}
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import securesystemslib.signer").Run() == nil {
			t.Log("no securesystemslib.dsse (scripts/sslib.sh unpacks it): checking the ed25519 signature alone")
			script := filepath.Join(dir, "sig.py")
			os.WriteFile(script, []byte(sslibSignature), 0o644)
			return func(args ...string) *exec.Cmd { return exec.Command(p, append([]string{script}, args...)...) }
		}
	}
	t.Skip("no python3-securesystemslib (scripts/deps.sh test installs it)")
	return nil
}

// signFixture writes the recipe and the host tool into a fresh dir and
// returns it with the environment its runs use.
func signFixture(t *testing.T) (dir string, env []string) {
	dir = t.TempDir()
	bin := filepath.Join(dir, "hostbin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "signtool"), []byte("#!/bin/sh\necho signtool 1\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "signed.yaml"), []byte(signedRecipe), 0o644)
	return dir, []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
}

// TestSignedRecordVerifies: a run leaves a DSSE envelope signed with a key
// made at first use outside the work dir and the cache; record --verify
// and securesystemslib accept it; one changed byte in the statement, or in
// a subject file, fails record --verify with a line naming it (and the
// changed statement fails securesystemslib too).
func TestSignedRecordVerifies(t *testing.T) {
	verifier := sslib(t)
	dir, env := signFixture(t)
	// Before the first run there is no key, and nothing makes one but a run.
	if r := bsEnv(t, dir, env, "record", "--public-key"); r.code != 1 || !strings.Contains(r.stderr, "no signing key in "+filepath.Join(dir, ".config/bootstrap/keys")) {
		t.Errorf("record --public-key before any run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := bsEnv(t, dir, env, "record", "--key", "k.pub", "signed.yaml"); r.code != 2 || !strings.Contains(r.stderr, "--key goes with --verify") {
		t.Errorf("record --key without --verify: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := bsEnv(t, dir, env, "run", "signed.yaml"); r.code != 0 {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	keyDir := filepath.Join(dir, ".config/bootstrap/keys")
	if fi, err := os.Stat(filepath.Join(keyDir, "ed25519")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v", err)
	}
	record := filepath.Join(dir, ".bootstrap/signed", "provenance.json")
	if _, err := os.Stat(record); err != nil {
		// The default work dir may carry the target.
		m, _ := filepath.Glob(filepath.Join(dir, ".bootstrap/*/provenance.json"))
		if len(m) != 1 {
			t.Fatalf("no record: %v", m)
		}
		record = m[0]
	}
	var envelope struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct{ KeyID, Sig string }
	}
	data, _ := os.ReadFile(record)
	if err := json.Unmarshal(data, &envelope); err != nil || envelope.PayloadType != "application/vnd.in-toto+json" || len(envelope.Signatures) != 1 {
		t.Fatalf("record is not a DSSE envelope: %v\n%s", err, data)
	}

	r := bsEnv(t, dir, env, "record", "--verify", record)
	if r.code != 0 || !strings.Contains(r.stdout, "3 subject(s) match the disk") {
		t.Fatalf("record --verify: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = bsEnv(t, dir, env, "record", "signed.yaml", "--verify"); r.code != 0 {
		t.Errorf("record RECIPE --verify (flag after the operand): %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = bsEnv(t, dir, env, "record", "--public-key")
	pub := filepath.Join(t.TempDir(), "bootstrap.pub.json")
	os.WriteFile(pub, []byte(r.stdout), 0o644)
	if r = bsEnv(t, dir, env, "record", "--verify", "--key", pub, record); r.code != 0 {
		t.Errorf("record --verify --key (the printed key): %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out, err := verifier(record, pub).CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "verified ") {
		t.Fatalf("securesystemslib rejected our envelope: %v\n%s", err, out)
	}

	// One changed byte in the signed statement.
	payload, _ := base64.StdEncoding.DecodeString(envelope.Payload)
	i := strings.Index(string(payload), `"name": "signed"`) + len(`"name": "s`)
	payload[i] = 'S'
	var raw map[string]any
	json.Unmarshal(data, &raw)
	raw["payload"] = base64.StdEncoding.EncodeToString(payload)
	tampered, _ := json.Marshal(raw)
	tamperedPath := filepath.Join(t.TempDir(), "provenance.json")
	os.WriteFile(tamperedPath, tampered, 0o644)
	r = bsEnv(t, dir, env, "record", "--verify", tamperedPath)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL "+tamperedPath+": signature") {
		t.Errorf("record --verify of a changed statement: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out, err := verifier(tamperedPath, pub).CombinedOutput(); err == nil {
		t.Errorf("securesystemslib accepted a changed statement:\n%s", out)
	}

	// One changed byte in a subject file, and one in a subject tree.
	out := filepath.Join(filepath.Dir(filepath.Dir(record)), filepath.Base(filepath.Dir(record)), "build/a/out.bin")
	os.WriteFile(out, []byte("onE\n"), 0o644)
	r = bsEnv(t, dir, env, "record", "--verify", record)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL subject "+out+": sha256 on disk is") || strings.Count(r.stdout, "FAIL") != 1 {
		t.Errorf("record --verify after a subject file changed: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	tree := filepath.Join(filepath.Dir(out), "tree")
	os.WriteFile(filepath.Join(tree, "f"), []byte("hellO\n"), 0o644)
	r = bsEnv(t, dir, env, "record", "--verify", record)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL subject "+tree+": bootstrapTreeSha256 on disk is") {
		t.Errorf("record --verify after a subject tree changed: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestRecordHostFactsPerStep: a step done in an earlier run keeps that
// run's host facts in the record; the step this run ran has this run's.
func TestRecordHostFactsPerStep(t *testing.T) {
	dir, env := signFixture(t)
	if r := bsEnv(t, dir, env, "run", "signed.yaml"); r.code != 0 {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The host changes: another build of the tool the recipe names.
	os.WriteFile(filepath.Join(dir, "hostbin", "signtool"), []byte("#!/bin/sh\necho signtool 2\n"), 0o755)
	if r := bsEnv(t, dir, env, "run", "signed.yaml", "--force", "b:make"); r.code != 0 {
		t.Fatalf("forced run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := bsEnv(t, dir, env, "record", "signed.yaml", "--json") // the statement as signed
	payload := []byte(r.stdout)
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				ResolvedDependencies []struct {
					Name        string
					Digest      map[string]string
					Annotations map[string]any
				}
			}
			RunDetails struct {
				Byproducts []struct {
					Name        string
					Annotations map[string]any
				}
			}
		}
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatalf("record: %v\n%s", err, r.stdout)
	}
	facts := map[string]any{}
	for _, b := range st.Predicate.RunDetails.Byproducts {
		facts[b.Name] = b.Annotations["hostFacts"]
	}
	if facts["a:make"] == nil || facts["b:make"] == nil || facts["a:make"] == facts["b:make"] {
		t.Fatalf("host facts per step: %v", facts)
	}
	tools := map[any]string{} // facts set → digest of signtool in it
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		if d.Name == "host tool signtool" {
			tools[d.Annotations["hostFacts"]] = d.Digest["sha256"]
		}
	}
	if len(tools) != 2 || tools[facts["a:make"]] == "" || tools[facts["a:make"]] == tools[facts["b:make"]] {
		t.Errorf("signtool in the record: %v (steps: %v)", tools, facts)
	}
}

// TestRecordRootfsTreeDigest: an emulated run's record names the root
// file system by the tree hash of its files, not by its package list: a
// changed file with the same package list gives another digest.
func TestRecordRootfsTreeDigest(t *testing.T) {
	busybox := testRootfs(t, "ppc64el")
	dir := copyFixture(t, "emulate")
	root := filepath.Join(dir, "rootfs")
	if out, err := exec.Command("cp", "-a", busybox, root).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte("Package: busybox-static\nStatus: install ok installed\nArchitecture: ppc64el\nVersion: 1:1.35.0-4+b4\n\n"), 0o644)
	work := filepath.Join(dir, "work")
	t.Setenv("BOOTSTRAP_TEST_SLEEP", "0")
	rootfsDigest := func(args ...string) (tree, packages string) {
		t.Helper()
		args = append([]string{"run", "--plain", "--emulate", "--rootfs", root, "--target", "ppc64le", "--workdir", work, "recipe.yaml"}, args...)
		if r := bsEnv(t, dir, nil, args...); r.code != 0 {
			t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		f, err := provenance.ReadFile(filepath.Join(work, "provenance.json"))
		if err != nil {
			t.Fatal(err)
		}
		var facts any // those of the run that ran probe:uname
		for _, b := range f.Statement.Predicate.RunDetails.Byproducts {
			if b.Name == "probe:uname" {
				facts = b.Annotations["hostFacts"]
			}
		}
		for _, d := range f.Statement.Predicate.BuildDefinition.ResolvedDependencies {
			if strings.HasPrefix(d.Name, "rootfs ") && d.Annotations["packageListSha256"] != nil && facts != nil && d.Annotations["hostFacts"] == facts {
				tree = d.Digest[provenance.DigestTreeHash]
				packages, _ = d.Annotations["packageListSha256"].(string)
			}
		}
		return tree, packages
	}
	tree1, pkgs1 := rootfsDigest()
	want, _ := treehash.Sum(root)
	if tree1 == "" || "sha256:"+tree1 != want {
		t.Fatalf("rootfs digest %q, want the tree hash %s", tree1, want)
	}
	os.WriteFile(filepath.Join(root, "etc-extra"), []byte("one more file\n"), 0o644)
	tree2, pkgs2 := rootfsDigest("--force", "probe:uname")
	if pkgs2 != pkgs1 || tree2 == tree1 || tree2 == "" {
		t.Errorf("a changed tree with the same packages: tree %s → %s, package list %s → %s", tree1, tree2, pkgs1, pkgs2)
	}
}

// TestKeyNeverWhereStepsSee: a key directory inside the work dir (where a
// step's HOME is) or the cache is refused before any step runs, and no
// key is made there; steps see neither the key's directory nor its
// variables.
func TestKeyNeverWhereStepsSee(t *testing.T) {
	dir, env := signFixture(t)
	work := filepath.Join(dir, "work")
	for name, keyDir := range map[string]string{
		"work dir": filepath.Join(work, "home", ".config", "bootstrap", "keys"),
		"cache":    filepath.Join(dir, ".cache", "bootstrap", "keys"),
	} {
		r := bsEnv(t, dir, append(env, "BOOTSTRAP_KEY_DIR="+keyDir), "run", "--workdir", work, "signed.yaml")
		if r.code != 2 || !strings.Contains(r.stderr, "inside the "+name) || len(started(r.stdout)) != 0 {
			t.Errorf("key in the %s: exit %d, started %v\n%s%s", name, r.code, started(r.stdout), r.stdout, r.stderr)
		}
		if _, err := os.Stat(keyDir); err == nil {
			t.Errorf("a key dir was made in the %s", name)
		}
	}
	// A step that looks for it finds nothing: not in its environment, not
	// under its HOME (which holds only Go's telemetry setting).
	os.WriteFile(filepath.Join(dir, "signed.yaml"), []byte(strings.Replace(signedRecipe,
		"run: echo b > b.txt", `run: echo b > b.txt; env > env.txt; ls -aR "$HOME" > home.txt`, 1)), 0o644)
	if r := bsEnv(t, dir, env, "run", "--workdir", work, "signed.yaml"); r.code != 0 {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	seen, _ := os.ReadFile(filepath.Join(work, "build/b/env.txt"))
	home, _ := os.ReadFile(filepath.Join(work, "build/b/home.txt"))
	// ls -R names each directory it lists, below the fixed path.
	home = []byte(strings.ReplaceAll(string(home), "/mnt/bootstrap/home", "$HOME"))
	if len(seen) == 0 || strings.Contains(string(seen), "BOOTSTRAP_KEY_DIR") || strings.Contains(string(seen), "XDG_CONFIG_HOME") ||
		strings.Contains(string(seen), ".config") || strings.Contains(string(home), "ed25519") || strings.Contains(string(home), "bootstrap") {
		t.Errorf("a step can find the key:\nenv:\n%s\nHOME:\n%s", seen, home)
	}
}

// TestRecordSaysWhenALaterStepChangedAnOutput: the case. A later
// step rewrites an earlier component's output: the record names the
// digest the earlier step left, marks the subject as changed, and
// record --verify fails on it.
func TestRecordSaysWhenALaterStepChangedAnOutput(t *testing.T) {
	dir, env := signFixture(t)
	os.WriteFile(filepath.Join(dir, "signed.yaml"), []byte(strings.Replace(signedRecipe,
		"run: echo b > b.txt", "run: echo b > b.txt; echo spoiled > ../a/out.bin", 1)), 0o644)
	work := filepath.Join(dir, "work")
	// The sandbox refuses that write (TestSandboxHostile): without it, the
	// write stands for anything that changes an output after its step
	// ended, which the record must not hide.
	if r := bsEnv(t, dir, env, "run", "--no-sandbox", "--workdir", work, "signed.yaml"); r.code != 0 {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := filepath.Join(work, "build/a/out.bin")
	r := bsEnv(t, dir, env, "record", "--workdir", work, "signed.yaml")
	// sha256 of "one\n", what a:make wrote.
	if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(out) + `\s+sha256:2c8b08da5ce60398e1f1…\s+CHANGED since its step: sha256 on disk is`).MatchString(r.stdout) {
		t.Errorf("record does not show the step's digest and the change:\n%s%s", r.stdout, r.stderr)
	}
	r = bsEnv(t, dir, env, "record", "--verify", "--workdir", work, "signed.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL subject "+out+": the record says: sha256 on disk is") {
		t.Errorf("record --verify: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
