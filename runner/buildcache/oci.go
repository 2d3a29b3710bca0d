package buildcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	digest "github.com/opencontainers/go-digest"
)

// OCIStore is a cache in an OCI registry repository, through oras-go. A
// cached component is an OCI 1.1 artifact tagged with its key (64 hex
// digits, a valid tag): an image manifest whose artifactType is
// ArtifactType, whose config is the signed record (RecordMediaType) and
// whose one layer is the archive. The record is the config rather than a
// referrer because distribution 2.8, the registry teams run most, has no
// referrers API: one manifest fetch gives record and archive together,
// on every registry.
type OCIStore struct {
	url  string
	repo *remote.Repository
}

// maxRecord bounds the record read from a registry: it is a few
// kilobytes of JSON, and a registry is not trusted to say so.
const maxRecord = 16 << 20

// newOCIStore opens host/repo with the credentials the container world
// keeps: $REGISTRY_AUTH_FILE (podman, skopeo, buildah), then the docker
// config ($DOCKER_CONFIG/config.json or ~/.docker/config.json, with its
// credential helpers). Plain HTTP is used when asked (oci+http) or when
// host is a loopback address, as docker does for localhost.
func newOCIStore(rawURL, host, repoName string, plainHTTP bool, o Options) (*OCIStore, error) {
	repo, err := remote.NewRepository(host + "/" + repoName)
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", rawURL, err)
	}
	repo.PlainHTTP = plainHTTP || isLoopback(host)
	var stores []credentials.Store
	if f := o.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		s, err := credentials.NewStore(f, credentials.StoreOptions{})
		if err != nil {
			return nil, fmt.Errorf("cache %s: REGISTRY_AUTH_FILE %s: %w", rawURL, f, err)
		}
		stores = append(stores, s)
	}
	if s, err := credentials.NewStoreFromDocker(credentials.StoreOptions{}); err == nil {
		stores = append(stores, s)
	}
	client := &auth.Client{Client: httpClient(), Cache: auth.NewCache(), Header: http.Header{"User-Agent": {"bootstrap"}}}
	if len(stores) > 0 {
		client.Credential = credentials.Credential(credentials.NewStoreWithFallbacks(stores[0], stores[1:]...))
	}
	repo.Client = client
	return &OCIStore{url: rawURL, repo: repo}, nil
}

// httpClient is oras-go's retrying client over a transport that gives
// up on a registry that does not answer: a registry that is down or slow
// must cost the run seconds, not hours (the caller's context bounds the
// whole transfer).
func httpClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: retry.NewTransport(tr)}
}

// isLoopback reports whether host (HOST or HOST:PORT) names this machine.
func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (s *OCIStore) String() string { return s.url }

// Record implements Store: it resolves the key's tag, reads the manifest
// and returns its config.
func (s *OCIStore) Record(ctx context.Context, key string) ([]byte, error) {
	desc, err := s.repo.Resolve(ctx, key)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", s.url, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", s.url, err)
	}
	if desc.Size > maxRecord {
		return nil, fmt.Errorf("cache %s: manifest of %s is %d bytes", s.url, short(key), desc.Size)
	}
	data, err := content.FetchAll(ctx, s.repo, desc)
	if err != nil {
		return nil, fmt.Errorf("cache %s: manifest of %s: %w", s.url, short(key), err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("cache %s: manifest of %s: %w", s.url, short(key), err)
	}
	if m.Config.MediaType != RecordMediaType || m.Config.Size > maxRecord {
		return nil, fmt.Errorf("cache %s: %s is not a bootstrap component (config %s)", s.url, short(key), m.Config.MediaType)
	}
	rec, err := content.FetchAll(ctx, s.repo, m.Config)
	if err != nil {
		return nil, fmt.Errorf("cache %s: record of %s: %w", s.url, short(key), err)
	}
	return rec, nil
}

// Archive implements Store.
func (s *OCIStore) Archive(ctx context.Context, b Blob) (io.ReadCloser, error) {
	d, err := digest.Parse(b.Digest)
	if err != nil {
		return nil, fmt.Errorf("cache %s: archive: %w", s.url, err)
	}
	rc, err := s.repo.Blobs().Fetch(ctx, ocispec.Descriptor{MediaType: b.MediaType, Digest: d, Size: b.Size})
	if err != nil {
		return nil, fmt.Errorf("cache %s: archive %s: %w", s.url, short(b.Digest), err)
	}
	return rc, nil
}

// Push implements Store: the archive (unless the registry has it), then
// the record as config, then the manifest tagged with the key.
func (s *OCIStore) Push(ctx context.Context, key string, record []byte, b Blob, archive string) error {
	d, err := digest.Parse(b.Digest)
	if err != nil {
		return err
	}
	layer := ocispec.Descriptor{MediaType: b.MediaType, Digest: d, Size: b.Size}
	if err := s.pushFile(ctx, layer, archive); err != nil {
		return err
	}
	config := content.NewDescriptorFromBytes(RecordMediaType, record)
	if err := s.pushBytes(ctx, config, record); err != nil {
		return err
	}
	m, err := oras.PackManifest(ctx, s.repo, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{layer}, ConfigDescriptor: &config,
		// A fixed time keeps the manifest reproducible: two machines
		// pushing the same component push the same bytes.
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "1970-01-01T00:00:00Z", "dev.porterkit.bootstrap.key": key},
	})
	if err != nil {
		return fmt.Errorf("cache %s: manifest: %w", s.url, err)
	}
	if err := s.repo.Tag(ctx, m, key); err != nil {
		return fmt.Errorf("cache %s: tag %s: %w", s.url, short(key), err)
	}
	return nil
}

func (s *OCIStore) pushFile(ctx context.Context, desc ocispec.Descriptor, p string) error {
	if ok, err := s.repo.Blobs().Exists(ctx, desc); err == nil && ok {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := s.repo.Blobs().Push(ctx, desc, f); err != nil {
		return fmt.Errorf("cache %s: archive: %w", s.url, err)
	}
	return nil
}

func (s *OCIStore) pushBytes(ctx context.Context, desc ocispec.Descriptor, data []byte) error {
	if ok, err := s.repo.Blobs().Exists(ctx, desc); err == nil && ok {
		return nil
	}
	if err := s.repo.Blobs().Push(ctx, desc, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("cache %s: record: %w", s.url, err)
	}
	return nil
}
