// Package fetch implements sources of kind url: files downloaded over http,
// https or file://, verified by sha256 and kept in a content-addressed cache
// (<cache>/sha256/<hex>).
//
// A file is looked for in the cache, then in each mirror (by file name, then
// by sha256/<hex> and <hex>), then at the recipe's URLs in order; a 404 or a
// missing file falls through to the next place. One streaming pass
// downloads, hashes and writes; the file gets its final name only after the
// hash matched (fsync + rename), so the cache never holds a wrong file. An
// interrupted download is kept in <cache>/partial/<hex> and resumed with an
// HTTP Range request; a server that ignores Range is read from the start.
//
// A download that stops sending bytes for Options.StallTimeout is cut and
// retried (resuming), as are cut connections and 5xx answers, a bounded
// number of times. A full disk is not retried: the partial file is removed
// and the error says the disk is full.
//
// Two processes filling one cache take turns: each cache entry has a lock
// (LockEntry), held while the entry is looked up and downloaded, so neither
// sees the other's partial file.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/source"
)

var _ source.Fetcher = (*Fetcher)(nil)

// ErrMissingOffline is wrapped by the error Fetch returns in offline mode
// when a source is neither cached nor in a local mirror.
var ErrMissingOffline = errors.New("source not available offline")

// MissingError says which file an offline run lacks; it wraps
// ErrMissingOffline.
type MissingError struct {
	File   string
	SHA256 string
	URLs   []string
}

func (e *MissingError) Error() string {
	sum := e.SHA256
	if sum == "" {
		sum = "unknown"
	}
	return fmt.Sprintf("%v: %s (sha256 %s) is not in the cache or a local mirror; download it from %s, or run `bootstrap fetch` with network",
		ErrMissingOffline, e.File, sum, strings.Join(e.URLs, " or "))
}

// Unwrap lets errors.Is find ErrMissingOffline.
func (e *MissingError) Unwrap() error { return ErrMissingOffline }

// HashMismatchError reports a download whose content is not what the recipe
// pins; nothing of it is kept.
type HashMismatchError struct {
	URL, Want, Got string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("sha256 mismatch for %s: expected %s, got %s", e.URL, e.Want, e.Got)
}

// Options configure a Fetcher.
type Options struct {
	// CacheDir is the cache root; files go to <CacheDir>/sha256/<hex>.
	CacheDir string
	// Mirrors are local directories or http(s)/file URLs, tried in order
	// before the recipe's URLs.
	Mirrors []string
	// Offline forbids any network connection; local mirrors and file://
	// URLs are still used.
	Offline bool
	// Client does the HTTP requests; nil means a client whose transport
	// gives up on a server that sends no response headers for a minute.
	Client *http.Client
	// Retries is how many more times a download is tried after a transient
	// failure (a cut connection, a 5xx): 0 means 3, negative means none.
	// Each retry resumes where the last attempt stopped.
	Retries int
	// Backoff is the wait before the first retry, doubled after each; 0
	// means one second.
	Backoff time.Duration
	// StallTimeout is how long a download may go without receiving a byte
	// (before the answer's headers or in its body) before it is cut and
	// retried; 0 means one minute.
	StallTimeout time.Duration
	// Progress, when set, receives a byte progress bar for each download.
	Progress io.Writer
}

// Fetcher fetches and materializes url sources; it implements
// source.Fetcher.
type Fetcher struct {
	opts Options
}

// New returns a Fetcher with opts' zero values replaced by defaults.
func New(opts Options) *Fetcher {
	if opts.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = time.Minute
		opts.Client = &http.Client{Transport: tr}
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.StallTimeout == 0 {
		opts.StallTimeout = time.Minute
	}
	return &Fetcher{opts: opts}
}

// candidate is one place a file may be found.
type candidate struct {
	// url is what logs and errors name.
	url string
	// local is the path of a local file (a mirror dir or file:// URL).
	local string
}

func (c candidate) remote() bool { return c.local == "" }

// Filename is the name src's file is looked up by in mirrors: src.Filename,
// or the last path element of its first URL.
func Filename(src plan.Source) string {
	if src.Filename != "" {
		return src.Filename
	}
	if len(src.URLs) > 0 {
		if u, err := url.Parse(src.URLs[0]); err == nil {
			if b := path.Base(u.Path); b != "/" && b != "." {
				return b
			}
		}
	}
	return src.SHA256
}

// candidates lists where to look for a file named name with sha256 sum
// (sum may be empty: then mirrors are only searched by name).
func (f *Fetcher) candidates(name, sum string, urls []string) ([]candidate, error) {
	var names []string
	if name != "" {
		names = append(names, name)
	}
	if sum != "" {
		names = append(names, "sha256/"+sum, sum)
	}
	var cs []candidate
	for _, m := range f.opts.Mirrors {
		switch {
		case strings.HasPrefix(m, "http://"), strings.HasPrefix(m, "https://"):
			base := strings.TrimRight(m, "/")
			for _, n := range names {
				cs = append(cs, candidate{url: base + "/" + n})
			}
		default:
			dir := m
			if strings.HasPrefix(m, "file://") {
				u, err := url.Parse(m)
				if err != nil {
					return nil, fmt.Errorf("mirror %s: %w", m, err)
				}
				dir = u.Path
			}
			for _, n := range names {
				p := filepath.Join(dir, filepath.FromSlash(n))
				cs = append(cs, candidate{url: p, local: p})
			}
		}
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", raw, err)
		}
		switch u.Scheme {
		case "http", "https":
			cs = append(cs, candidate{url: raw})
		case "file":
			cs = append(cs, candidate{url: raw, local: u.Path})
		default:
			return nil, fmt.Errorf("fetch %s: unsupported URL scheme %q (want http, https or file)", raw, u.Scheme)
		}
	}
	return cs, nil
}

// errNotFound marks a place that does not have the file (404, missing
// file): the next place is tried without complaint.
var errNotFound = errors.New("not found")

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Fetch makes src's file available in the cache, verified. It logs each
// place tried to log and returns an error naming the file and every place
// that failed; offline, an error wrapping ErrMissingOffline.
func (f *Fetcher) Fetch(ctx context.Context, src plan.Source, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	name := Filename(src)
	if !validSHA256(src.SHA256) {
		return fmt.Errorf("fetch %s: sha256 %q is not 64 lowercase hex digits", name, src.SHA256)
	}
	unlock, err := LockEntry(ctx, f.opts.CacheDir, "sha256-"+src.SHA256, name, log)
	if err != nil {
		return err
	}
	defer unlock()
	final := CachePath(f.opts.CacheDir, src.SHA256)
	if exists(final) {
		fmt.Fprintf(log, "%s: cached (sha256 %s)\n", name, src.SHA256)
		return nil
	}
	if err := Writable(f.opts.CacheDir); err != nil {
		// A read-only cache serves what it holds; this it does not.
		werr := fmt.Errorf("fetch %s: not in the cache, and the cache %s cannot be written (%v): fill it with `bootstrap fetch` where it is writable, or give --cache a writable directory",
			name, f.opts.CacheDir, errors.Unwrap(err))
		if f.opts.Offline {
			return fmt.Errorf("%w (%w)", werr, ErrMissingOffline)
		}
		return werr
	}
	cs, err := f.candidates(name, src.SHA256, src.URLs)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if c.remote() && f.opts.Offline {
			continue
		}
		err := f.get(ctx, c, src.SHA256, name, MaxDownload(src.Size), log)
		switch {
		case err == nil:
			fmt.Fprintf(log, "%s: fetched from %s (sha256 %s)\n", name, c.url, src.SHA256)
			return nil
		case errors.As(err, new(*TooLargeError)):
			// The same pinned file is as large everywhere: stop here.
			return fmt.Errorf("fetch %s: %w", name, err)
		case errors.Is(err, errNotFound):
			fmt.Fprintf(log, "%s: not at %s\n", name, c.url)
		case ctx.Err() != nil:
			return fmt.Errorf("fetch %s: %w", name, ctx.Err())
		default:
			fmt.Fprintf(log, "%s: %v\n", name, err)
			errs = append(errs, err)
		}
	}
	if f.opts.Offline && len(errs) == 0 {
		return &MissingError{File: name, SHA256: src.SHA256, URLs: src.URLs}
	}
	if len(errs) == 0 {
		return fmt.Errorf("fetch %s: not found at %s", name, strings.Join(urlsOf(cs), ", "))
	}
	return fmt.Errorf("fetch %s: %w", name, errors.Join(errs...))
}

func urlsOf(cs []candidate) []string {
	var s []string
	for _, c := range cs {
		s = append(s, c.url)
	}
	return s
}

// DefaultMaxDownload is how much a url download may take when its source
// gives no size: far more than any source tarball of the chain (go1.19.8's
// is 26.5 MB, Docker 20.10.24's largest 2.3 MB as .tar.xz), far less than
// a disk.
const DefaultMaxDownload = 2 << 30

// MaxDownload is the limit for a download whose recipe gives size (0: the
// default).
func MaxDownload(size int64) int64 {
	if size > 0 {
		return size
	}
	return DefaultMaxDownload
}

// TooLargeError is a download or a copy that went past its limit.
type TooLargeError struct {
	// URL is where it came from; Limit the most it could take.
	URL   string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than its limit of %d bytes (the recipe's size:, or the default): stopped there", e.URL, e.Limit)
}

// limitReader reads r and fails with a *TooLargeError once more than
// limit bytes came.
type limitReader struct {
	r    io.Reader
	left int64
	err  *TooLargeError
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, l.err
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n - int(-l.left), l.err
	}
	return n, err
}

// get stores the file at c in the cache if its sha256 is sum and it takes
// at most limit bytes.
func (f *Fetcher) get(ctx context.Context, c candidate, sum, name string, limit int64, log io.Writer) error {
	if !c.remote() {
		got, err := f.copyLocal(c.local, sum, limit)
		if err == nil && got != sum {
			err = &HashMismatchError{URL: c.url, Want: sum, Got: got}
		}
		return err
	}
	for attempt := 0; ; attempt++ {
		err := f.download(ctx, c.url, sum, name, limit, log)
		if err == nil || !retryable(err) || attempt >= f.opts.Retries || ctx.Err() != nil {
			return err
		}
		wait := f.opts.Backoff << attempt
		fmt.Fprintf(log, "%s: %v; retrying in %v\n", name, err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
