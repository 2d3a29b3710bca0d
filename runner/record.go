package runner

import (
	"context"
	"crypto/ed25519"
	"os"

	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/sign"
)

// VerifyRecord checks a provenance record (`bootstrap record --verify`):
// its signature with the public key in keyFile, or with bootstrap's own key
// when keyFile is empty, and every subject against the disk. Problems are
// in the result; the error is for a record or key that cannot be read.
func VerifyRecord(ctx context.Context, path, keyFile string) (*provenance.Verification, error) {
	pub, err := publicKey(keyFile)
	if err != nil {
		return nil, err
	}
	return provenance.VerifyFile(ctx, path, pub)
}

// PublicKeyJSON is bootstrap's own public key in securesystemslib's JSON
// form (`bootstrap record --public-key`), for a verifier we did not write.
// It does not make a key: there is none before the first run.
func PublicKeyJSON() ([]byte, error) {
	pub, err := publicKey("")
	if err != nil {
		return nil, err
	}
	return sign.PublicJSON(pub), nil
}

// publicKey reads keyFile, or bootstrap's own public key when it is empty.
func publicKey(keyFile string) (ed25519.PublicKey, error) {
	if keyFile != "" {
		return sign.ReadPublic(keyFile)
	}
	dir, err := sign.Dir(os.Getenv)
	if err != nil {
		return nil, err
	}
	return sign.LoadPublic(dir)
}
