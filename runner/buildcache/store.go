package buildcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotFound is a key the store has no record for.
var ErrNotFound = errors.New("not in the cache")

// Store is where cached components live: records keyed by component key,
// archives by digest.
type Store interface {
	// String is the store's URL, as the porter wrote it.
	String() string
	// Record returns the signed record (the envelope's JSON) stored under
	// key, or an error wrapping ErrNotFound.
	Record(ctx context.Context, key string) ([]byte, error)
	// Archive opens the blob b for reading. The caller checks its digest
	// (Download does).
	Archive(ctx context.Context, b Blob) (io.ReadCloser, error)
	// Push stores the archive (the file at archive, whose identity is b)
	// and then the record under key: a reader never finds a record whose
	// archive is not there yet.
	Push(ctx context.Context, key string, record []byte, b Blob, archive string) error
}

// Options are how stores are opened.
type Options struct {
	// Getenv reads the environment (REGISTRY_AUTH_FILE, DOCKER_CONFIG);
	// nil means os.Getenv.
	Getenv func(string) string
}

// OpenStore opens the store at rawURL: file:///DIR (a plain directory,
// e.g. a mounted share), oci://HOST[:PORT]/REPO (an OCI registry over
// HTTPS, or plain HTTP when HOST is a loopback address), or
// oci+http://HOST[:PORT]/REPO (plain HTTP, asked for explicitly). Nothing
// is contacted yet. A URL of another form is an error saying which are
// known.
func OpenStore(rawURL string, o Options) (Store, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || u.Path == "" {
			return nil, fmt.Errorf("cache %s: a directory is file:///ABSOLUTE/PATH", rawURL)
		}
		return &FileStore{url: rawURL, dir: filepath.Clean(u.Path)}, nil
	case "oci", "oci+http":
		repo := strings.Trim(u.Path, "/")
		if u.Host == "" || repo == "" {
			return nil, fmt.Errorf("cache %s: a registry is oci://HOST[:PORT]/REPO", rawURL)
		}
		return newOCIStore(rawURL, u.Host, repo, u.Scheme == "oci+http", o)
	}
	return nil, fmt.Errorf("cache %s: unknown kind of store (file:///DIR, oci://HOST[:PORT]/REPO or oci+http://HOST[:PORT]/REPO)", rawURL)
}

// DigestError is an archive whose bytes are not the ones the record was
// signed over.
type DigestError struct {
	Want, Got string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("the archive's sha256 is %s, not %s as its signed record says (damaged or altered in the cache)", short(e.Got), short(e.Want))
}

// Download copies the archive b from s to the file dst, checking its size
// and sha256 as it goes; a mismatch is a *DigestError and dst is removed.
func Download(ctx context.Context, s Store, b Blob, dst string) error {
	rc, err := s.Archive(ctx, b)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rc, b.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		got := "sha256:" + hex.EncodeToString(h.Sum(nil))
		if got != b.Digest || n != b.Size {
			err = &DigestError{Want: b.Digest, Got: got}
		}
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}

// FileDigest is the Blob of the file at p with media type mt.
func FileDigest(p, mt string) (Blob, error) {
	f, err := os.Open(p)
	if err != nil {
		return Blob{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Blob{}, fmt.Errorf("read %s: %w", p, err)
	}
	return Blob{MediaType: mt, Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
