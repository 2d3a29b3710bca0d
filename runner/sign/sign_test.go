package sign

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestKeyFirstUse: the key is made once, private 0600 in a 0700 dir,
// read back the same the second time, and a key others can read is
// refused.
func TestKeyFirstUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k, created, err := LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("first use: %v created=%v", err, created)
	}
	for name, want := range map[string]os.FileMode{".": 0o700, PrivateName: 0o600, PublicName: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v mode %v, want %v", name, err, fi.Mode().Perm(), want)
		}
	}
	k2, created, err := LoadOrCreate(dir)
	if err != nil || created || !k2.Private.Equal(k.Private) {
		t.Fatalf("second use: %v created=%v same=%v", err, created, k2.Private.Equal(k.Private))
	}
	pub, err := ReadPublic(filepath.Join(dir, PublicName))
	if err != nil || !pub.Equal(k.Public()) {
		t.Fatalf("ReadPublic: %v", err)
	}
	os.Chmod(filepath.Join(dir, PrivateName), 0o644)
	if _, _, err := LoadOrCreate(dir); err == nil {
		t.Error("a world-readable key was accepted")
	}
}

// TestReadPublicForms: the JSON, PEM and hex forms give the same key.
func TestReadPublicForms(t *testing.T) {
	dir := t.TempDir()
	k, _, err := LoadOrCreate(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	forms := map[string][]byte{
		"json": PublicJSON(k.Public()),
		"pem":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"hex":  []byte(hex.EncodeToString(k.Public()) + "\n"),
	}
	for name, data := range forms {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		pub, err := ReadPublic(p)
		if err != nil || !pub.Equal(k.Public()) {
			t.Errorf("%s: %v", name, err)
		}
	}
	os.WriteFile(filepath.Join(dir, "bad"), []byte("abcd"), 0o644)
	if _, err := ReadPublic(filepath.Join(dir, "bad")); err == nil {
		t.Error("2 bytes of hex taken for a key")
	}
}

// TestEnvelope: a signed payload verifies with its key, not with another,
// and not after one changed byte in the payload.
func TestEnvelope(t *testing.T) {
	ctx := context.Background()
	k, _, _ := LoadOrCreate(filepath.Join(t.TempDir(), "a"))
	other, _, _ := LoadOrCreate(filepath.Join(t.TempDir(), "b"))
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
	env, err := Envelope(ctx, k, payload)
	if err != nil {
		t.Fatal(err)
	}
	if env.PayloadType != PayloadType || len(env.Signatures) != 1 || env.Signatures[0].KeyID != KeyID(k.Public()) {
		t.Fatalf("envelope %+v", env)
	}
	// The signature is ed25519 over DSSE's PAE, checked here by hand.
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	pae := "DSSEv1 28 application/vnd.in-toto+json 43 " + string(payload)
	if !ed25519.Verify(k.Public(), []byte(pae), sig) {
		t.Error("signature is not over PAE(type, payload)")
	}
	if body, err := Verify(ctx, env, k.Public()); err != nil || string(body) != string(payload) {
		t.Fatalf("Verify: %v %q", err, body)
	}
	if _, err := Verify(ctx, env, other.Public()); !errors.Is(err, ErrNotSigned) {
		t.Errorf("another key: %v", err)
	}
	tampered := *env
	tampered.Payload = base64.StdEncoding.EncodeToString([]byte(`{"_type":"https://in-toto.io/Statement/v2"}`))
	if _, err := Verify(ctx, &tampered, k.Public()); !errors.Is(err, ErrNotSigned) {
		t.Errorf("tampered payload: %v", err)
	}
}

// TestOutside: a key dir under the work dir or the cache is refused, one
// beside them is not.
func TestOutside(t *testing.T) {
	root := t.TempDir()
	work, cache := filepath.Join(root, "w"), filepath.Join(root, "c")
	forbidden := map[string]string{"work dir": work, "cache": cache}
	for dir, bad := range map[string]bool{
		filepath.Join(work, "home/.config/bootstrap/keys"): true,
		filepath.Join(cache, "keys"):                       true,
		cache:                                              true,
		filepath.Join(root, "keys"):                        false,
		root + "/w2/keys":                                  false,
	} {
		if err := Outside(dir, forbidden); (err != nil) != bad {
			t.Errorf("Outside(%s) = %v, want refused=%v", dir, err, bad)
		}
	}
}

// TestDir: BOOTSTRAP_KEY_DIR, then XDG_CONFIG_HOME, then HOME.
func TestDir(t *testing.T) {
	for want, env := range map[string]map[string]string{
		"/k":                        {"BOOTSTRAP_KEY_DIR": "/k", "XDG_CONFIG_HOME": "/x", "HOME": "/h"},
		"/x/bootstrap/keys":         {"XDG_CONFIG_HOME": "/x", "HOME": "/h"},
		"/h/.config/bootstrap/keys": {"HOME": "/h"},
	} {
		got, err := Dir(func(k string) string { return env[k] })
		if err != nil || got != want {
			t.Errorf("Dir(%v) = %q %v, want %q", env, got, err, want)
		}
	}
	if _, err := Dir(func(string) string { return "" }); err == nil {
		t.Error("no HOME: no error")
	}
}

// TestKeyMadeOnceByRacingRuns: runs that make the key at the same moment
// all end up signing with the one key on disk.
func TestKeyMadeOnceByRacingRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	keys := make([]*Key, 8)
	errs := make(chan error, len(keys))
	done := make(chan struct{})
	for i := range keys {
		go func() {
			var err error
			keys[i], _, err = LoadOrCreate(dir)
			errs <- err
			done <- struct{}{}
		}()
	}
	for range keys {
		<-done
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	pub, err := LoadPublic(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if !k.Public().Equal(pub) {
			t.Errorf("run %d signs with a key that is not the one on disk", i)
		}
	}
}
