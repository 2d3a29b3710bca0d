// Package source defines how the runner gets a component's sources: a Fetcher
// per source kind fills the cache (fetch step) and later writes the pinned
// tree into a fresh directory (patch step). It also implements the simplest
// kind, a local directory.
package source

import (
	"context"
	"fmt"
	"io"

	"github.com/porterkit/bootstrap/bootstrap/plan"
)

// Fetcher handles one kind of source.
type Fetcher interface {
	// Fetch makes the source available for Materialize without network
	// access later (download into the cache, clone, verify). It writes a
	// human-readable account to log and returns an error naming the URL or
	// path on failure.
	Fetch(ctx context.Context, src plan.Source, log io.Writer) error
	// Materialize writes the source's pinned content at src.Dest inside
	// tree (the component's fresh source tree), honouring src.Strip. It
	// must write nothing outside tree; links may point anywhere inside it,
	// as a Debian tarball at debian/ links into the upstream tree.
	Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error
}

// Set maps a source kind (url, git, dir, svn, hg) to its Fetcher.
type Set map[string]Fetcher

// For returns the Fetcher for src's kind, or an error naming the kind.
func (s Set) For(src plan.Source) (Fetcher, error) {
	f, ok := s[src.Kind]
	if !ok {
		return nil, fmt.Errorf("source kind %q is not supported by this build of bootstrap", src.Kind)
	}
	return f, nil
}
