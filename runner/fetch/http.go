package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
)

// statusError is an HTTP status that is neither success nor "not found".
type statusError struct {
	url  string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("fetch %s: HTTP %s", e.url, http.StatusText(e.code))
}

// retryable reports whether trying the same URL again may help.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests || se.code == http.StatusRequestTimeout
	}
	var hm *HashMismatchError
	return !errors.Is(err, errNotFound) && !errors.As(err, &hm)
}

// download fetches u into the partial file for sum, resuming what an earlier
// attempt left there, and commits it to the cache if the hash matches. A
// failed transfer keeps the partial file for the next attempt; a mismatch
// removes it.
func (f *Fetcher) download(ctx context.Context, u, sum, name string, log io.Writer) error {
	pp := partialPath(f.opts.CacheDir, sum)
	if err := os.MkdirAll(filepath.Dir(pp), 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	pf, err := os.OpenFile(pp, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	committed := false
	defer func() {
		if !committed {
			pf.Close()
		}
	}()
	h := sha256.New()
	// Hash what is already there; this also leaves the offset at its end.
	have, err := io.Copy(h, pf)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	resp, err := f.request(ctx, u, have)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if have > 0 {
		switch {
		case resumed(resp, have):
			fmt.Fprintf(log, "%s: resuming at byte %d\n", name, have)
		case resp.StatusCode == http.StatusOK:
			fmt.Fprintf(log, "%s: %s ignored the range request; starting over\n", name, u)
			if err := restart(pf, h); err != nil {
				return fmt.Errorf("fetch %s: %w", u, err)
			}
			have = 0
		case resp.StatusCode == http.StatusPartialContent || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
			// A range we did not ask for, or a partial file as long as
			// the whole file or longer: it cannot be trusted.
			fmt.Fprintf(log, "%s: %s cannot resume at byte %d; starting over\n", name, u, have)
			resp.Body.Close()
			if err := restart(pf, h); err != nil {
				return fmt.Errorf("fetch %s: %w", u, err)
			}
			have = 0
			if resp, err = f.request(ctx, u, 0); err != nil {
				return err
			}
			defer resp.Body.Close()
		}
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fmt.Errorf("fetch %s: %w", u, errNotFound)
	case have == 0 && resp.StatusCode != http.StatusOK,
		have > 0 && resp.StatusCode != http.StatusPartialContent:
		return &statusError{url: u, code: resp.StatusCode}
	}
	var w io.Writer = io.MultiWriter(pf, h)
	if f.opts.Progress != nil {
		total := int64(-1)
		if resp.ContentLength >= 0 {
			total = have + resp.ContentLength
		}
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(f.opts.Progress),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(name),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(f.opts.Progress) }))
		bar.Set64(have)
		defer bar.Exit()
		w = io.MultiWriter(pf, h, bar)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("fetch %s: interrupted (kept for resuming): %w", u, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != sum {
		pf.Close()
		committed = true
		os.Remove(pp)
		return &HashMismatchError{URL: u, Want: sum, Got: got}
	}
	committed = true
	if err := commitFile(pf, CachePath(f.opts.CacheDir, sum), func() {}); err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	return nil
}

// request GETs u, asking for the bytes from offset on when offset > 0.
func (f *Fetcher) request(ctx context.Context, u string, offset int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := f.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	return resp, nil
}

// resumed reports whether resp continues a file at byte offset.
func resumed(resp *http.Response, offset int64) bool {
	return resp.StatusCode == http.StatusPartialContent &&
		strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", offset))
}

// restart empties the partial file and the running hash.
func restart(pf *os.File, h hash.Hash) error {
	h.Reset()
	if err := pf.Truncate(0); err != nil {
		return err
	}
	_, err := pf.Seek(0, io.SeekStart)
	return err
}

// copyLocal copies the local file p into the cache if its sha256 is want
// (any sha256 when want is empty) and returns its sha256.
func (f *Fetcher) copyLocal(p, want string) (string, error) {
	in, err := os.Open(p)
	if os.IsNotExist(err) {
		return "", fmt.Errorf("fetch %s: %w", p, errNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", p, err)
	}
	defer in.Close()
	if st, err := in.Stat(); err == nil && st.IsDir() {
		return "", fmt.Errorf("fetch %s: %w", p, errNotFound)
	}
	tmp, err := newTemp(f.opts.CacheDir)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", p, err)
	}
	defer tmp.discard()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp.f, h), in); err != nil {
		return "", fmt.Errorf("fetch %s: %w", p, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return got, nil
	}
	if err := tmp.commit(CachePath(f.opts.CacheDir, got)); err != nil {
		return "", fmt.Errorf("fetch %s: %w", p, err)
	}
	return got, nil
}
