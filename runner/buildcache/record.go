// Package buildcache is bootstrap's shared cache of finished components:
// a component's trees packed as a zstd-compressed tar, and a record of
// what made them, signed with the same ed25519 key as the provenance
// (runner/sign), kept in a store keyed by the component's key — a plain
// directory (file:///DIR) or any OCI registry (oci://HOST[:PORT]/REPO,
// through oras-go).
//
// The key (Key) hashes the component's name and the signatures of its
// steps up to its last build step. Step signatures are chained through
// every dependency (sources by content, patches, commands, environment,
// host tool identities, the root file system's packages, and the
// signatures of every upstream step), so equal keys mean the same inputs
// all the way down; the verify step is left out because a restore runs
// it again.
//
// The record is an in-toto Statement: its subject is the archive (by
// sha256), its predicate a Record. A reader trusts nothing it has not
// checked: the envelope's signature against the trusted keys (Open), the
// archive's digest while it is downloaded (Download), every tree's hash
// once unpacked (Unpack).
package buildcache

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/porterkit/bootstrap/runner/sign"
)

// Media and predicate types of what the cache stores.
const (
	// PredicateType names the record's predicate.
	PredicateType = "https://github.com/porterkit/bootstrap/cache-record/v1"
	// StatementType is in-toto's Statement v1.
	StatementType = "https://in-toto.io/Statement/v1"
	// ArchiveMediaType is the archive's media type (an OCI layer).
	ArchiveMediaType = "application/vnd.porterkit.bootstrap.trees.v1.tar+zstd"
	// RecordMediaType is the signed record's (the OCI manifest's config):
	// a DSSE envelope, as sigstore and in-toto tools name it.
	RecordMediaType = "application/vnd.dsse.envelope.v1+json"
	// ArtifactType is the OCI artifact type of a cached component.
	ArtifactType = "application/vnd.porterkit.bootstrap.component.v1"
)

// Record is what a cached component says about itself.
type Record struct {
	// Component is the component's name.
	Component string `json:"component"`
	// Key is the component's key (Key).
	Key string `json:"key"`
	// Target is the target the plan was compiled for.
	Target string `json:"target"`
	// Steps are the component's steps up to its last build step, in
	// order, as their checkpoints recorded them.
	Steps []Step `json:"steps"`
	// Trees are what the archive holds, each with its tree hash.
	Trees []Tree `json:"trees"`
	// Archive is the packed trees.
	Archive Blob `json:"archive"`
	// Created is when the record was made.
	Created time.Time `json:"created"`
	// Builder says which bootstrap on which host made the component: the
	// host facts of the run that ran its last step, as the provenance
	// record has them.
	Builder json.RawMessage `json:"builder,omitempty"`
}

// Step is one step of a cached component as its checkpoint recorded it:
// the signature and its inputs (so that a porter can diff what was built
// against what is asked for), and how the step went.
type Step struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	Signature  string            `json:"signature"`
	Inputs     map[string]string `json:"inputs"`
	Started    time.Time         `json:"started"`
	Finished   time.Time         `json:"finished"`
	Seconds    float64           `json:"seconds"`
	CPUSeconds float64           `json:"cpuSeconds,omitempty"`
	// Record is what the step kept (how patches applied).
	Record json.RawMessage `json:"record,omitempty"`
}

// Tree is a packed tree: its path relative to the work dir
// (slash-separated: src/go, build/go, install/go) and its tree hash
// (bootstrap/treehash).
type Tree struct {
	Path string `json:"path"`
	Hash string `json:"hash"`
}

// Blob is a stored blob's identity.
type Blob struct {
	MediaType string `json:"mediaType"`
	// Digest is "sha256:<hex>".
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// statement is the in-toto Statement a record travels in.
type statement struct {
	Type          string    `json:"_type"`
	Subject       []subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     *Record   `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Sign wraps r in a Statement whose subject is its archive and signs it
// with k, returning the DSSE envelope as JSON.
func Sign(ctx context.Context, r *Record, k *sign.Key) ([]byte, error) {
	hexDigest, ok := strings.CutPrefix(r.Archive.Digest, "sha256:")
	if !ok {
		return nil, fmt.Errorf("record of %s: archive digest %q is not sha256", r.Component, r.Archive.Digest)
	}
	st := statement{Type: StatementType, PredicateType: PredicateType, Predicate: r,
		Subject: []subject{{Name: r.Component + ".tar.zst", Digest: map[string]string{"sha256": hexDigest}}}}
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	env, err := sign.Envelope(ctx, k, payload)
	if err != nil {
		return nil, fmt.Errorf("record of %s: %w", r.Component, err)
	}
	return json.Marshal(env)
}

// TrustError is a record that no trusted key vouches for: unsigned, or
// signed by keys nobody trusts, or with a signature that does not verify.
type TrustError struct {
	// Signers are the key IDs the envelope names (empty: unsigned).
	Signers []string
	// Why says what is wrong, in a few words.
	Why string
}

func (e *TrustError) Error() string { return e.Why }

// Verified is a record that verified, with the key that vouched for it.
type Verified struct {
	*Record
	// Signer is the trusted key's ID (sign.KeyID).
	Signer string
}

// Open checks that envelope is a DSSE envelope signed by one of trusted
// and returns its record. A record no trusted key signed is a
// *TrustError; one that verifies but is not a cache record, or is the
// record of another key, is an error saying so.
func Open(ctx context.Context, envelope []byte, key string, trusted []ed25519.PublicKey) (*Verified, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil || env.PayloadType == "" {
		return nil, &TrustError{Why: "the record is not a signed envelope (not a DSSE envelope)"}
	}
	if len(env.Signatures) == 0 {
		return nil, &TrustError{Why: "the record is unsigned (its envelope has no signature)"}
	}
	var signers []string
	for _, s := range env.Signatures {
		signers = append(signers, short(s.KeyID))
	}
	byID := map[string]ed25519.PublicKey{}
	for _, pub := range trusted {
		byID[sign.KeyID(pub)] = pub
	}
	var payload []byte
	signer := ""
	for _, s := range env.Signatures {
		pub, ok := byID[s.KeyID]
		if !ok {
			continue
		}
		p, err := sign.Verify(ctx, &env, pub)
		if err != nil {
			return nil, &TrustError{Signers: signers, Why: fmt.Sprintf("the record's signature by trusted key %s does not verify: %v", short(s.KeyID), err)}
		}
		payload, signer = p, s.KeyID
		break
	}
	if payload == nil {
		return nil, &TrustError{Signers: signers, Why: fmt.Sprintf("the record is signed by key %s, which is not trusted (--trust PUBKEY trusts a colleague's key)", strings.Join(signers, ", "))}
	}
	var st statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("signed record: %w", err)
	}
	r := st.Predicate
	switch {
	case st.Type != StatementType || st.PredicateType != PredicateType || r == nil:
		return nil, fmt.Errorf("signed record: not a bootstrap cache record (predicate type %q)", st.PredicateType)
	case r.Key != key:
		return nil, fmt.Errorf("signed record is of key %s, not %s", short(r.Key), short(key))
	case len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != r.Archive.Digest:
		return nil, errors.New("signed record: its subject is not its archive")
	}
	return &Verified{Record: r, Signer: signer}, nil
}

// short is the first 16 hex digits of a key or key ID, as messages show
// them.
func short(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	return s[:min(16, len(s))]
}
