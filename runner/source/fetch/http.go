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
	"sync/atomic"
	"syscall"
	"time"

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
	var tl *TooLargeError
	return !errors.Is(err, errNotFound) && !errors.As(err, &hm) && !errors.As(err, &tl) && !errors.Is(err, syscall.ENOSPC)
}

// stallError is a download cut because no byte came for the stall timeout.
type stallError struct {
	url     string
	timeout time.Duration
	have    int64
}

func (e *stallError) Error() string {
	if e.have == 0 {
		return fmt.Sprintf("fetch %s: no data for %v (the server stalled)", e.url, e.timeout)
	}
	return fmt.Sprintf("fetch %s: no data for %v (the server stalled; kept %d bytes for resuming)", e.url, e.timeout, e.have)
}

// watchdog cancels a download's context when no byte arrives for the
// stall timeout; every byte read through it restarts the clock.
type watchdog struct {
	timer   *time.Timer
	timeout time.Duration
	stalled atomic.Bool
}

// watch returns a context for one download attempt and its watchdog; the
// clock runs from now, so a server that never answers is cut too.
func (f *Fetcher) watch(ctx context.Context) (context.Context, *watchdog, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	w := &watchdog{timeout: f.opts.StallTimeout}
	w.timer = time.AfterFunc(w.timeout, func() {
		w.stalled.Store(true)
		cancel()
	})
	return ctx, w, func() {
		w.timer.Stop()
		cancel()
	}
}

// reader passes r through, restarting the clock on every byte.
func (w *watchdog) reader(r io.Reader) io.Reader {
	return readFunc(func(p []byte) (int, error) {
		n, err := r.Read(p)
		if n > 0 {
			w.timer.Reset(w.timeout)
		}
		return n, err
	})
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// diskFull turns an error writing into the cache into one that says the
// disk is full, when it is, and removes the partial file pp: it cannot be
// finished until space is freed, and it holds space meanwhile.
func diskFull(err error, u, pp string) error {
	if !errors.Is(err, syscall.ENOSPC) {
		return err
	}
	os.Remove(pp)
	return fmt.Errorf("fetch %s: the cache's disk is full; removed the partial download: %w", u, err)
}

// download fetches u into the partial file for sum, resuming what an earlier
// attempt left there, and commits it to the cache if the hash matches. A
// failed transfer keeps the partial file for the next attempt; a mismatch
// removes it.
func (f *Fetcher) download(ctx context.Context, u, sum, name string, limit int64, log io.Writer) error {
	ctx, wd, stop := f.watch(ctx)
	defer stop()
	pp := partialPath(f.opts.CacheDir, sum)
	have, err := f.transfer(ctx, wd, u, sum, name, pp, limit, log)
	if errors.As(err, new(*TooLargeError)) {
		os.Remove(pp) // never to be finished
		return err
	}
	if wd.stalled.Load() && err != nil {
		return &stallError{url: u, timeout: wd.timeout, have: have}
	}
	return diskFull(err, u, pp)
}

// transfer is one download attempt (see download); have is how many bytes
// the partial file holds when it returns.
func (f *Fetcher) transfer(ctx context.Context, wd *watchdog, u, sum, name, pp string, limit int64, log io.Writer) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(pp), 0o755); err != nil {
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	pf, err := os.OpenFile(pp, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", u, err)
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
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	resp, have, err := f.resume(ctx, u, name, pf, h, have, log)
	if err != nil {
		return have, err
	}
	defer resp.Body.Close()
	tooLarge := &TooLargeError{URL: u, Limit: limit}
	if resp.ContentLength >= 0 && have+resp.ContentLength > limit {
		return have, tooLarge // said up front: nothing to download
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
	n, err := io.Copy(w, &limitReader{r: wd.reader(resp.Body), left: limit - have, err: tooLarge})
	have += n
	if errors.As(err, new(*TooLargeError)) {
		return have, err
	}
	if err != nil {
		return have, fmt.Errorf("fetch %s: interrupted (kept %d bytes for resuming): %w", u, have, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != sum {
		pf.Close()
		committed = true
		os.Remove(pp)
		return 0, &HashMismatchError{URL: u, Want: sum, Got: got}
	}
	committed = true
	if err := commitFile(pf, CachePath(f.opts.CacheDir, sum), func() {}); err != nil {
		return have, fmt.Errorf("fetch %s: %w", u, err)
	}
	return have, nil
}

// resume asks u for the bytes after the have bytes of the partial file pf
// (whose hash so far is h) and returns the answer to read the rest from,
// and how many bytes of pf it continues: have, or 0 when the server cannot
// resume and pf was emptied. A 404 is errNotFound; another failure status
// a *statusError.
func (f *Fetcher) resume(ctx context.Context, u, name string, pf *os.File, h hash.Hash, have int64, log io.Writer) (*http.Response, int64, error) {
	resp, err := f.request(ctx, u, have)
	if err != nil {
		return nil, have, err
	}
	if have > 0 {
		switch {
		case resumed(resp, have):
			fmt.Fprintf(log, "%s: resuming at byte %d\n", name, have)
		case resp.StatusCode == http.StatusOK:
			fmt.Fprintf(log, "%s: %s ignored the range request; starting over\n", name, u)
			have = 0
			if err := restart(pf, h); err != nil {
				resp.Body.Close()
				return nil, 0, fmt.Errorf("fetch %s: %w", u, err)
			}
		case resp.StatusCode == http.StatusPartialContent || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
			// A range we did not ask for, or a partial file as long as
			// the whole file or longer: it cannot be trusted.
			fmt.Fprintf(log, "%s: %s cannot resume at byte %d; starting over\n", name, u, have)
			resp.Body.Close()
			have = 0
			if err := restart(pf, h); err != nil {
				return nil, 0, fmt.Errorf("fetch %s: %w", u, err)
			}
			if resp, err = f.request(ctx, u, 0); err != nil {
				return nil, 0, err
			}
		}
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, have, fmt.Errorf("fetch %s: %w", u, errNotFound)
	case have == 0 && resp.StatusCode != http.StatusOK,
		have > 0 && resp.StatusCode != http.StatusPartialContent:
		resp.Body.Close()
		return nil, have, &statusError{url: u, code: resp.StatusCode}
	}
	return resp, have, nil
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
// (any sha256 when want is empty) and it is at most limit bytes, and
// returns its sha256.
func (f *Fetcher) copyLocal(p, want string, limit int64) (string, error) {
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
	if _, err := io.Copy(io.MultiWriter(tmp.f, h), &limitReader{r: in, left: limit, err: &TooLargeError{URL: p, Limit: limit}}); err != nil {
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

// IsNotFound reports whether err says a URL has no such file (HTTP 404 or
// 410, or a missing local file).
func IsNotFound(err error) bool { return errors.Is(err, errNotFound) }

// Get downloads u whole into file, with the Fetcher's client, stall
// timeout, retries and back-off, as url sources are: for a file whose
// sha256 is not known beforehand (a Go module zip, known by its h1), so
// there is no partial file to resume and each retry starts over. It stops
// with a *TooLargeError past limit bytes. A missing file is an error for
// which IsNotFound is true; every error names u.
func (f *Fetcher) Get(ctx context.Context, u string, file *os.File, limit int64, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	for attempt := 0; ; attempt++ {
		err := f.getOnce(ctx, u, file, limit)
		if err == nil || !retryable(err) || attempt >= f.opts.Retries || ctx.Err() != nil {
			return err
		}
		wait := f.opts.Backoff << attempt
		fmt.Fprintf(log, "%s: %v; retrying in %v\n", u, err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// getOnce is one attempt of Get.
func (f *Fetcher) getOnce(ctx context.Context, u string, file *os.File, limit int64) error {
	if err := restart(file, sha256.New()); err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	ctx, wd, stop := f.watch(ctx)
	defer stop()
	err := func() error {
		resp, err := f.request(ctx, u, 0)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			return fmt.Errorf("fetch %s: %w", u, errNotFound)
		case resp.StatusCode != http.StatusOK:
			return &statusError{url: u, code: resp.StatusCode}
		}
		tooLarge := &TooLargeError{URL: u, Limit: limit}
		if resp.ContentLength > limit {
			return tooLarge
		}
		if _, err := io.Copy(file, &limitReader{r: wd.reader(resp.Body), left: limit, err: tooLarge}); err != nil {
			if errors.As(err, new(*TooLargeError)) {
				return err
			}
			return fmt.Errorf("fetch %s: interrupted: %w", u, err)
		}
		return nil
	}()
	if err != nil && wd.stalled.Load() {
		return &stallError{url: u, timeout: wd.timeout}
	}
	return err
}
