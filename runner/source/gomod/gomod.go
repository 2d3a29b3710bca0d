// Package gomod implements sources of kind gomod: a Go module version
// (`gomod: MODULE@VERSION`, pinned by `h1:`, the dirhash go.sum records)
// fetched with the module proxy protocol and kept in the content-addressed
// cache like any download. Go toolchain releases are modules
// (golang.org/toolchain@v0.0.1-go1.27.4.linux-amd64 holds the whole
// src/), which is how a porter gets Go's sources — and the official
// artifact to verify a build against — through nothing but a module proxy.
//
// Proxies come from GOPROXY as the go command reads it (a list separated by
// ',' — fall through on 404 and 410 only — or '|' — fall through on any
// error); "off" and offline mode mean the cache only, though file:// proxies,
// being local, are still read. "direct" (fetching from the module's version
// control) is not supported: the h1 pin is what matters, and a proxy or a
// file:// copy of one serves it.
//
// Cache layout: the zip at <cache>/sha256/<hex of the zip>, and a small index
// <cache>/gomod/<escaped module>/@v/<escaped version>.zip.sha256 holding
// "<hex> <h1>". A zip is verified against its h1 (golang.org/x/mod's dirhash)
// and checked as a module zip (x/mod/zip.CheckZip) before it gets a name in
// the cache, and its h1 is checked again each time it is unpacked.
package gomod

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/porterkit/bootstrap/runner/state"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source"
	"github.com/porterkit/bootstrap/runner/source/fetch"
)

var _ source.Fetcher = (*Fetcher)(nil)

// DefaultProxy is GOPROXY's default in the go command.
const DefaultProxy = "https://proxy.golang.org,direct"

// ErrNotFound is wrapped by the error returned when no proxy (and not the
// cache) has the module version.
var ErrNotFound = errors.New("module version not found")

// H1MismatchError is a module zip whose dirhash is not the pinned one;
// nothing of it is kept.
type H1MismatchError struct {
	Module, Version, URL, Want, Got string
}

func (e *H1MismatchError) Error() string {
	return fmt.Sprintf("%s@%s from %s: h1 mismatch: the recipe pins %s, the zip hashes to %s", e.Module, e.Version, e.URL, e.Want, e.Got)
}

// Options configure a Fetcher.
type Options struct {
	// CacheDir is the cache root shared with url sources.
	CacheDir string
	// Proxy is a GOPROXY value; "" means DefaultProxy.
	Proxy string
	// Offline forbids any network access (file:// proxies are still read).
	Offline bool
	// Client does the HTTP requests; nil means fetch's default.
	Client *http.Client
	// HTTP downloads from http(s) proxies; nil means a fetch.Fetcher with
	// Client and fetch's defaults. Sharing the url sources' fetcher gives
	// module downloads the same stall timeout, retries and back-off, so a
	// stalled proxy cannot hang a run.
	HTTP *fetch.Fetcher
}

// MaxZip is the most a module zip download may take:
// golang.org/x/mod/zip's cap on a module zip, which CheckZip enforces
// after the download too.
const MaxZip = modzip.MaxZipFile

// Fetcher fetches and unpacks gomod sources.
type Fetcher struct {
	opts Options
}

// New returns a Fetcher.
func New(opts Options) *Fetcher {
	if opts.Proxy == "" {
		opts.Proxy = DefaultProxy
	}
	if opts.HTTP == nil {
		opts.HTTP = fetch.New(fetch.Options{CacheDir: opts.CacheDir, Client: opts.Client})
	}
	return &Fetcher{opts: opts}
}

// Fetch makes the module zip available in the cache; see Zip.
func (f *Fetcher) Fetch(ctx context.Context, src plan.Source, log io.Writer) error {
	_, err := f.Zip(ctx, src.Module, src.Version, src.H1, log)
	return err
}

// Zip returns the path of the module zip of mod@version in the cache,
// downloading it first when it is not there. The zip's dirhash is h1. It
// returns an *H1MismatchError for a zip that is not the pinned one, and an
// error wrapping ErrNotFound (and, offline, fetch.ErrMissingOffline) when
// no place has it; both name the module version.
func (f *Fetcher) Zip(ctx context.Context, mod, version, h1 string, log io.Writer) (string, error) {
	mv := module.Version{Path: mod, Version: version}
	if p, ok := f.cached(mv, h1); ok {
		fmt.Fprintf(log, "%s@%s: in the cache (%s)\n", mod, version, p)
		return p, nil
	}
	proxies, err := parseProxy(f.opts.Proxy)
	if err != nil {
		return "", err
	}
	var tried []string
	for _, px := range proxies {
		if px.url == "off" || px.url == "direct" || (f.opts.Offline && !strings.HasPrefix(px.url, "file://")) {
			if px.url == "direct" {
				fmt.Fprintf(log, "%s@%s: GOPROXY's direct (from version control) is not supported; skipped\n", mod, version)
			}
			continue
		}
		u, err := zipURL(px.url, mv)
		if err != nil {
			return "", err
		}
		tried = append(tried, u)
		fmt.Fprintf(log, "%s@%s: downloading %s\n", mod, version, u)
		p, err := f.download(ctx, u, mv, h1, log)
		if err == nil {
			fmt.Fprintf(log, "%s@%s: %s verified, cached as %s\n", mod, version, h1, p)
			return p, nil
		}
		var mismatch *H1MismatchError
		if errors.As(err, &mismatch) || ctx.Err() != nil {
			return "", err
		}
		fmt.Fprintf(log, "%s@%s: %v\n", mod, version, err)
		if !px.anyError && !errors.Is(err, ErrNotFound) {
			return "", fmt.Errorf("%s@%s: %w (GOPROXY entries after ',' are tried only after a 404 or 410; use '|' to fall through on any error)", mod, version, err)
		}
	}
	return "", f.missing(mv, h1, tried)
}

func (f *Fetcher) missing(mv module.Version, h1 string, tried []string) error {
	if f.opts.Offline || len(tried) == 0 {
		return fmt.Errorf("%s@%s (%s) is not in the cache: %w; run `bootstrap fetch` with network, or point GOPROXY at a file:// copy of a proxy (%w)",
			mv.Path, mv.Version, h1, ErrNotFound, fetch.ErrMissingOffline)
	}
	return fmt.Errorf("%s@%s: %w at %s; check the version, or set GOPROXY to a proxy that serves it",
		mv.Path, mv.Version, ErrNotFound, strings.Join(tried, ", "))
}

// proxy is one GOPROXY entry; anyError says that the entry was followed by
// '|', so any failure falls through to the next.
type proxy struct {
	url      string
	anyError bool
}

// parseProxy splits a GOPROXY value as cmd/go does (cmd/go/internal/modfetch
// proxyList): entries separated by ',' or '|'.
func parseProxy(s string) ([]proxy, error) {
	var out []proxy
	for s != "" {
		i := strings.IndexAny(s, ",|")
		entry, sep := s, byte(0)
		if i >= 0 {
			entry, sep, s = s[:i], s[i], s[i+1:]
		} else {
			s = ""
		}
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if entry != "off" && entry != "direct" && !strings.Contains(entry, "://") {
			entry = "https://" + entry // as cmd/go: a bare host means https
		}
		out = append(out, proxy{url: strings.TrimSuffix(entry, "/"), anyError: sep == '|'})
	}
	if len(out) == 0 {
		return nil, errors.New("GOPROXY is empty; set it to a proxy URL or off")
	}
	return out, nil
}

// zipURL is the proxy protocol's address of a module version's zip:
// <proxy>/<escaped module>/@v/<escaped version>.zip.
func zipURL(base string, mv module.Version) (string, error) {
	ep, err := module.EscapePath(mv.Path)
	if err != nil {
		return "", fmt.Errorf("gomod %s@%s: %w", mv.Path, mv.Version, err)
	}
	ev, err := module.EscapeVersion(mv.Version)
	if err != nil {
		return "", fmt.Errorf("gomod %s@%s: %w", mv.Path, mv.Version, err)
	}
	return base + "/" + ep + "/@v/" + ev + ".zip", nil
}

// indexPath is where the cache records which zip holds mod@version.
func (f *Fetcher) indexPath(mv module.Version) string {
	ep, _ := module.EscapePath(mv.Path)
	ev, _ := module.EscapeVersion(mv.Version)
	return filepath.Join(f.opts.CacheDir, "gomod", filepath.FromSlash(ep), "@v", ev+".zip.sha256")
}

// cached looks mod@version up in the cache's index; it trusts the index
// only for the same h1 and a zip that is still there.
func (f *Fetcher) cached(mv module.Version, h1 string) (string, bool) {
	data, err := os.ReadFile(f.indexPath(mv))
	if err != nil {
		return "", false
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 || fields[1] != h1 {
		return "", false
	}
	p := fetch.CachePath(f.opts.CacheDir, fields[0])
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

// download fetches u into a temporary file in the cache, verifies it and
// gives it its content-addressed name. Errors for a missing file wrap
// ErrNotFound.
func (f *Fetcher) download(ctx context.Context, u string, mv module.Version, h1 string, log io.Writer) (string, error) {
	tmpDir := filepath.Join(f.opts.CacheDir, "partial")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(tmpDir, "gomod-*.zip")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := f.get(ctx, u, tmp, log); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if _, err := io.Copy(h, tmp); err != nil {
		return "", fmt.Errorf("download %s: %w", u, err)
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	got, err := dirhash.HashZip(tmp.Name(), dirhash.Hash1)
	if err != nil {
		return "", fmt.Errorf("%s is not a readable zip: %w", u, err)
	}
	if got != h1 {
		return "", &H1MismatchError{Module: mv.Path, Version: mv.Version, URL: u, Want: h1, Got: got}
	}
	if _, err := modzip.CheckZip(mv, tmp.Name()); err != nil {
		return "", fmt.Errorf("%s is not a valid module zip for %s@%s: %w", u, mv.Path, mv.Version, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	final := fetch.CachePath(f.opts.CacheDir, sum)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	if err := state.WriteFileAtomic(f.indexPath(mv), []byte(sum+" "+h1+"\n")); err != nil {
		return "", fmt.Errorf("cache index for %s@%s: %w", mv.Path, mv.Version, err)
	}
	return final, nil
}

// get copies u into tmp: http(s) through the url fetcher (its timeouts,
// retries and stall detection, and MaxZip), file:// from disk. A missing
// file is an error wrapping ErrNotFound.
func (f *Fetcher) get(ctx context.Context, u string, tmp *os.File, log io.Writer) error {
	pu, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("bad proxy URL %s: %w", u, err)
	}
	if pu.Scheme != "file" {
		err := f.opts.HTTP.Get(ctx, u, tmp, MaxZip, log)
		if fetch.IsNotFound(err) {
			return fmt.Errorf("%s: %w", u, ErrNotFound)
		}
		return err
	}
	r, err := os.Open(pu.Path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", u, ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(tmp, io.LimitReader(r, MaxZip+1)); err != nil {
		return fmt.Errorf("copy %s: %w", u, err)
	}
	return nil
}
