// Package sign signs and verifies bootstrap's provenance record as a DSSE
// envelope (https://github.com/secure-systems-lab/dsse, the envelope of
// the in-toto attestation framework) with an ed25519 key.
//
// The key is bootstrap's own: created on first use in a directory of the
// user's configuration ($BOOTSTRAP_KEY_DIR, else
// $XDG_CONFIG_HOME/bootstrap/keys, else ~/.config/bootstrap/keys), the
// private half readable by its owner only. It must live outside the work
// dir and the cache, which steps see (steps get HOME=<work>/home and a
// clean environment, so nothing tells them where the key is): Outside
// refuses a key directory under either.
//
// The envelope format is go-securesystemslib's dsse package, maintained by
// the DSSE authors, rather than our own PAE: the pre-authentication
// encoding is where a home-made verifier goes wrong, and theirs is the one
// in-toto's own tools use.
package sign

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
)

// PayloadType is the DSSE payload type of an in-toto Statement.
const PayloadType = "application/vnd.in-toto+json"

// File names inside the key directory.
const (
	PrivateName = "ed25519"
	PublicName  = "ed25519.pub"
)

// Key is bootstrap's signing key.
type Key struct {
	Private ed25519.PrivateKey
	// Dir is the directory the key was read from.
	Dir string
}

// Public is the key's public half.
func (k *Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// KeyID names a public key in an envelope's signatures: the hex sha256 of
// the raw 32-byte key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// Dir is where the key lives, from the environment (getenv is os.Getenv
// in bootstrap; tests pass their own). It returns an error only when no
// home directory can be found.
func Dir(getenv func(string) string) (string, error) {
	if d := getenv("BOOTSTRAP_KEY_DIR"); d != "" {
		return filepath.Abs(d)
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "bootstrap", "keys"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("signing key: neither BOOTSTRAP_KEY_DIR, XDG_CONFIG_HOME nor HOME is set")
	}
	return filepath.Join(home, ".config", "bootstrap", "keys"), nil
}

// Outside returns an error when dir is inside one of the given
// directories (the work dir, the cache): a step could read the key there.
func Outside(dir string, forbidden map[string]string) error {
	d := realPath(dir)
	for what, f := range forbidden {
		if f == "" {
			continue
		}
		rel, err := filepath.Rel(realPath(f), d)
		if err == nil && (rel == "." || filepath.IsLocal(rel)) {
			return fmt.Errorf("signing key directory %s is inside the %s %s, where steps can read it: set BOOTSTRAP_KEY_DIR elsewhere", dir, what, f)
		}
	}
	return nil
}

// realPath resolves symlinks in as much of p as exists.
func realPath(p string) string {
	p, _ = filepath.Abs(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p
	}
	return filepath.Join(realPath(parent), filepath.Base(p))
}

// LoadOrCreate reads the key in dir, creating it (and dir, mode 0700) on
// first use: the private key as PKCS #8 PEM, mode 0600, and the public key
// beside it in securesystemslib's JSON form. created says whether it was
// made now. Errors name the file.
func LoadOrCreate(dir string) (k *Key, created bool, err error) {
	priv := filepath.Join(dir, PrivateName)
	data, err := os.ReadFile(priv)
	if err == nil {
		if fi, err := os.Stat(priv); err == nil && fi.Mode().Perm()&0o077 != 0 {
			// As ssh does: a key others can read is no longer only ours.
			return nil, false, fmt.Errorf("signing key %s is readable by others (mode %v): chmod 600 it, or remove it to make a new one", priv, fi.Mode().Perm())
		}
		k, err := parsePrivate(priv, data)
		return k, false, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("signing key: %w", err)
	}
	_, pk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return nil, false, fmt.Errorf("signing key: %w", err)
	}
	if err := linkNew(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); errors.Is(err, fs.ErrExist) {
		// Another run made it first: use theirs.
		k, _, err := LoadOrCreate(dir)
		return k, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("signing key: %w", err)
	}
	k = &Key{Private: pk, Dir: dir}
	if err := atomicfile.Write(filepath.Join(dir, PublicName), PublicJSON(k.Public()), 0o644); err != nil {
		return nil, false, fmt.Errorf("signing key: %w", err)
	}
	return k, true, nil
}

// linkNew creates path with data, mode 0600, whole or not at all, and
// fails with fs.ErrExist when it exists: two runs making the key at once
// end up with one key, and neither reads half of it.
func linkNew(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Link(f.Name(), path)
}

// LoadPublic returns the public key of the key in dir (what `record
// --verify` checks against by default), without making one. Errors name
// the directory.
func LoadPublic(dir string) (ed25519.PublicKey, error) {
	pub, err := ReadPublic(filepath.Join(dir, PublicName))
	if errors.Is(err, fs.ErrNotExist) {
		if k, _, err := loadExisting(dir); err == nil {
			return k.Public(), nil
		}
		return nil, fmt.Errorf("no signing key in %s (bootstrap makes one at its first run; --key names another public key)", dir)
	}
	return pub, err
}

// loadExisting reads the private key in dir without making one.
func loadExisting(dir string) (*Key, bool, error) {
	priv := filepath.Join(dir, PrivateName)
	data, err := os.ReadFile(priv)
	if err != nil {
		return nil, false, err
	}
	k, err := parsePrivate(priv, data)
	return k, false, err
}

func parsePrivate(path string, data []byte) (*Key, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PEM private key", path)
	}
	pk, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	ed, ok := pk.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: %T, want ed25519", path, pk)
	}
	return &Key{Private: ed, Dir: filepath.Dir(path)}, nil
}

// sslibKey is securesystemslib's (and TUF's) JSON form of a public key.
type sslibKey struct {
	KeyID   string `json:"keyid,omitempty"`
	KeyType string `json:"keytype"`
	Scheme  string `json:"scheme"`
	KeyVal  struct {
		Public string `json:"public"`
	} `json:"keyval"`
}

// PublicJSON is a public key in securesystemslib's form, {"keytype":
// "ed25519", "scheme": "ed25519", "keyval": {"public": "<hex>"}} plus its
// keyid: what `bootstrap record --public-key` prints and `SSlibKey.from_dict`
// reads.
func PublicJSON(pub ed25519.PublicKey) []byte {
	k := sslibKey{KeyID: KeyID(pub), KeyType: "ed25519", Scheme: "ed25519"}
	k.KeyVal.Public = hex.EncodeToString(pub)
	data, _ := json.MarshalIndent(k, "", "  ")
	return append(data, '\n')
}

// ReadPublic reads a public key file: securesystemslib's JSON form, a PEM
// "PUBLIC KEY" (PKIX), or the key's 64 hex digits. Errors name the file.
func ReadPublic(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	text := strings.TrimSpace(string(data))
	var hexKey string
	switch {
	case strings.HasPrefix(text, "{"):
		var k sslibKey
		if err := json.Unmarshal(data, &k); err != nil {
			return nil, fmt.Errorf("public key %s: %w", path, err)
		}
		if k.KeyType != "ed25519" {
			return nil, fmt.Errorf("public key %s: keytype %q, want ed25519", path, k.KeyType)
		}
		hexKey = k.KeyVal.Public
	case strings.HasPrefix(text, "-----BEGIN"):
		b, _ := pem.Decode(data)
		if b == nil || b.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("public key %s: not a PEM public key", path)
		}
		pk, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", path, err)
		}
		ed, ok := pk.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key %s: %T, want ed25519", path, pk)
		}
		return ed, nil
	default:
		hexKey = text
	}
	raw, err := hex.DecodeString(hexKey)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %s: want %d bytes of hex, got %q", path, ed25519.PublicKeySize, hexKey)
	}
	return ed25519.PublicKey(raw), nil
}

// signer is an ed25519 key as dsse's Signer and Verifier.
type signer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func (s signer) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(s.priv, data), nil
}

func (s signer) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(s.pub, data, sig) {
		return errors.New("ed25519 signature does not verify")
	}
	return nil
}

func (s signer) KeyID() (string, error)   { return KeyID(s.pub), nil }
func (s signer) Public() crypto.PublicKey { return s.pub }

// Envelope signs payload (an in-toto Statement) and returns the DSSE
// envelope.
func Envelope(ctx context.Context, k *Key, payload []byte) (*dsse.Envelope, error) {
	es, err := dsse.NewEnvelopeSigner(signer{priv: k.Private, pub: k.Public()})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return env, nil
}

// ErrNotSigned is returned by Verify for an envelope with no signature by
// the key.
var ErrNotSigned = errors.New("no valid signature by the key")

// Verify checks that env is signed by pub and has the in-toto payload
// type, and returns the payload. The error wraps ErrNotSigned when the
// signature does not verify.
func Verify(ctx context.Context, env *dsse.Envelope, pub ed25519.PublicKey) ([]byte, error) {
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("payload type %q, want %q", env.PayloadType, PayloadType)
	}
	ev, err := dsse.NewEnvelopeVerifier(signer{pub: pub})
	if err != nil {
		return nil, err
	}
	_, body, err := ev.VerifyAndDecode(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w (%v)", KeyID(pub)[:16], ErrNotSigned, err)
	}
	return body, nil
}
