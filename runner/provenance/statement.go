// Package provenance writes the record of a run, <work>/provenance.json, in
// the supply-chain ecosystem's format: an in-toto Statement v1
// (https://in-toto.io/Statement/v1) whose predicate is SLSA provenance v1
// (https://slsa.dev/provenance/v1). It says what was built (subjects with
// digests: declared outputs and verified artifacts), from what (every
// source as written in the recipe with its pin, every patch, the host's
// facts), by which bootstrap, when, and how each step ended. The file is a
// DSSE envelope of that statement signed with bootstrap's ed25519 key
// (envelope.go, runner/sign); VerifyFile checks the signature and every
// subject against the disk.
//
// What must be true of the moment a step ended is taken then, not when the
// record is written (stepend.go): each subject's digest, and the host
// facts of the run that ran the step, kept beside its checkpoint. The
// record checks each subject against the disk again and says when one
// changed since its step.
//
// The format is a handful of small typed structs with encoding/json tags
// rather than github.com/in-toto/attestation's Go bindings: those are
// generated protobuf types that need protojson to get the spec's field
// names (a plain json.Marshal writes "predicate_type"), and would bring
// the protobuf runtime into a tool meant to be carried to small boards. A
// test checks the output against the spec's field names and required
// fields.
//
// Verification results go into the same record, as byproducts of their
// verify steps (and the verified artifacts as subjects), not into a
// separate SLSA Verification Summary Attestation: a VSA is a verifier's
// statement about an artifact against a policy, made after the fact; here
// the comparison is a step of the build itself, and one file that shows the
// build and its check together is what a porter hands on.
package provenance

import "time"

// Spec identifiers.
const (
	StatementType  = "https://in-toto.io/Statement/v1"
	PredicateType  = "https://slsa.dev/provenance/v1"
	BuildType      = "https://github.com/porterkit/bootstrap/recipe/v1"
	BuilderID      = "https://github.com/porterkit/bootstrap"
	DigestTreeHash = "bootstrapTreeSha256" // bootstrap/treehash of a directory
	DigestDirHash  = "dirHash"             // golang.org/x/mod/sumdb/dirhash, as go.sum's h1
	DigestGit      = "gitCommit"
)

// Statement is an in-toto Statement v1 with an SLSA provenance predicate.
type Statement struct {
	Type          string               `json:"_type"`
	Subject       []ResourceDescriptor `json:"subject"`
	PredicateType string               `json:"predicateType"`
	Predicate     Provenance           `json:"predicate"`
}

// ResourceDescriptor is in-toto's description of an artifact: at least
// one of URI, Digest and Content is set.
type ResourceDescriptor struct {
	Name             string            `json:"name,omitempty"`
	URI              string            `json:"uri,omitempty"`
	Digest           map[string]string `json:"digest,omitempty"`
	DownloadLocation string            `json:"downloadLocation,omitempty"`
	MediaType        string            `json:"mediaType,omitempty"`
	Annotations      map[string]any    `json:"annotations,omitempty"`
}

// Provenance is the SLSA provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is what was asked for and what it resolved to.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   map[string]any       `json:"externalParameters"`
	InternalParameters   map[string]any       `json:"internalParameters,omitempty"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// RunDetails is who built it, when, and the byproducts (one per step).
type RunDetails struct {
	Builder    Builder              `json:"builder"`
	Metadata   Metadata             `json:"metadata"`
	Byproducts []ResourceDescriptor `json:"byproducts,omitempty"`
}

// Builder identifies the bootstrap binary that ran.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// Metadata bounds the run in time.
type Metadata struct {
	InvocationID string    `json:"invocationId,omitempty"`
	StartedOn    time.Time `json:"startedOn"`
	FinishedOn   time.Time `json:"finishedOn"`
}
