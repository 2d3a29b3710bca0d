package provenance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/porterkit/bootstrap/runner/internal/atomicfile"
	"github.com/porterkit/bootstrap/runner/sign"
)

// FileName is the record's name in the work dir: a DSSE envelope whose
// payload is the Statement. One file, rather than a statement with the
// envelope beside it, so that the record cannot be handed on without its
// signature and no reader can take the unsigned half for the whole.
const FileName = "provenance.json"

// Path is where a work dir's record is.
func Path(workDir string) string { return filepath.Join(workDir, FileName) }

// Write signs the record with k and stores the envelope at
// <work>/provenance.json atomically (temp file, fsync, rename), so a
// reader never sees half of it. Errors name the file.
func Write(ctx context.Context, workDir string, st *Statement, k *sign.Key) error {
	payload, err := json.MarshalIndent(st, "", "  ") // readable once decoded
	if err != nil {
		return err
	}
	env, err := sign.Envelope(ctx, k, payload)
	if err != nil {
		return fmt.Errorf("%s: %w", Path(workDir), err)
	}
	data, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(Path(workDir), append(data, '\n'), 0o644)
}

// File is a record as read from disk.
type File struct {
	Statement *Statement
	// Envelope is the DSSE envelope it came in; nil for a plain statement
	// written by a bootstrap that did not sign its records.
	Envelope *dsse.Envelope
	// Payload is the statement's bytes as signed.
	Payload []byte
	// StatementErr is why a signed payload is not a statement (Statement
	// is then empty): the signature decides first whether that matters.
	StatementErr error
}

// ReadFile reads a record, signed or not, without checking the signature
// (VerifyFile does). Errors name the file.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &File{Payload: data}
	if _, ok := probe["payloadType"]; ok {
		f.Envelope = &dsse.Envelope{}
		if err := json.Unmarshal(data, f.Envelope); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if f.Payload, err = f.Envelope.DecodeB64Payload(); err != nil {
			return nil, fmt.Errorf("%s: payload: %w", path, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(f.Payload))
	f.Statement = &Statement{}
	if err := dec.Decode(f.Statement); err != nil {
		err = fmt.Errorf("%s: statement: %w", path, err)
		if f.Envelope == nil {
			return nil, err
		}
		// A changed byte in a signed payload may also break its JSON:
		// VerifyFile reports the signature, the reader gets this.
		f.Statement, f.StatementErr = &Statement{}, err
	}
	return f, nil
}

// Read loads a work dir's record; an error names the file and says how to
// get one.
func Read(workDir string) (*Statement, error) {
	f, err := ReadFile(Path(workDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no provenance record at %s: `bootstrap run` writes one when a run ends", Path(workDir))
	}
	if err != nil {
		return nil, err
	}
	if f.StatementErr != nil {
		return nil, f.StatementErr
	}
	return f.Statement, nil
}

// Verification is what VerifyFile found.
type Verification struct {
	// KeyID names the key the signature was checked with.
	KeyID string
	// Subjects is how many subjects were checked against the disk.
	Subjects int
	// Problems has one line per failure: the signature, and each subject
	// whose digest does not match the disk or that the record itself
	// marks as changed since its step ended.
	Problems []string
}

// OK reports whether nothing failed.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// VerifyFile checks a record: that it is a DSSE envelope of an in-toto
// statement signed by pub, and that every subject's digest matches its
// file or tree on disk now. Problems go into the result; the error is for
// a file that cannot be read at all.
func VerifyFile(ctx context.Context, path string, pub ed25519.PublicKey) (*Verification, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	v := &Verification{KeyID: sign.KeyID(pub)}
	switch {
	case f.Envelope == nil:
		v.Problems = append(v.Problems, fmt.Sprintf("%s: not signed (a plain statement, not a DSSE envelope)", path))
	default:
		if _, err := sign.Verify(ctx, f.Envelope, pub); err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s: signature: %v", path, err))
			return v, nil // an unsigned payload says nothing worth checking
		}
	}
	if f.StatementErr != nil {
		v.Problems = append(v.Problems, f.StatementErr.Error())
		return v, nil
	}
	if f.Statement.Type != StatementType {
		v.Problems = append(v.Problems, fmt.Sprintf("%s: _type %q, want %s", path, f.Statement.Type, StatementType))
	}
	for _, s := range f.Statement.Subject {
		v.Subjects++
		// Named by where it is on this machine: the name is the path
		// steps saw (the sandbox's fixed one).
		where := s.Name
		if p, ok := strings.CutPrefix(s.URI, "file://"); ok {
			where = p
		}
		if m, ok := s.Annotations["mismatch"]; ok {
			v.Problems = append(v.Problems, fmt.Sprintf("subject %s: the record says: %v", where, m))
		}
		if why := CheckSubject(s); why != "" {
			v.Problems = append(v.Problems, fmt.Sprintf("subject %s: %s", where, why))
		}
	}
	return v, nil
}
