package fetch

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/unpack"
)

// errNotCached is a file missing from the cache when it is to be unpacked.
var errNotCached = errors.New("not in the cache")

// DamagedError reports a cache entry whose content no longer has the hash
// it is filed under (bit rot, a truncated copy). The entry has been
// removed.
type DamagedError struct {
	File, Path string
	Want, Got  string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("cached file %s for %s is damaged (sha256 %s, expected %s); removed it", e.Path, e.File, e.Got, e.Want)
}

// Materialize unpacks src's cached file at src.Dest inside tree with
// src.Strip, or copies it to <dest>/<file name> when it is not an archive;
// links are checked against the whole tree. The file is hashed while it is
// unpacked, in the same pass, and when the unpack fails the rest of the
// file is hashed too before the archive is blamed: a cache entry damaged
// on disk (a flipped byte in the data or in a tar header, a truncated
// file) is caught either way. Then the entry is removed and fetched again,
// once, in the same call, as is an entry missing from the cache; offline, or when that fails, the error is a
// *DamagedError naming the path and both hashes. Any error names the file;
// dest is emptied on error.
func (f *Fetcher) Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	name := Filename(src)
	if !validSHA256(src.SHA256) {
		return fmt.Errorf("materialize %s: sha256 %q is not 64 lowercase hex digits", name, src.SHA256)
	}
	err := f.materialize(ctx, src, tree, name, log)
	var damaged *DamagedError
	switch {
	case errors.Is(err, errNotCached) && !f.opts.Offline:
		// Removed since the fetch step (by hand, or by an offline run
		// that found it damaged).
		fmt.Fprintf(log, "%s: no longer in the cache; fetching it again\n", name)
	case errors.As(err, &damaged) && ctx.Err() == nil:
		fmt.Fprintf(log, "%s: %v; fetching it again\n", name, damaged)
	default:
		return err
	}
	if ferr := f.Fetch(ctx, src, log); ferr != nil {
		return fmt.Errorf("materialize %s: %w; fetching it again failed: %w", name, err, ferr)
	}
	return f.materialize(ctx, src, tree, name, log)
}

// materialize is one attempt of Materialize, without the second fetch.
func (f *Fetcher) materialize(ctx context.Context, src plan.Source, tree, name string, log io.Writer) error {
	dest := filepath.Join(tree, src.Dest)
	into := unpack.Dest{Root: tree, Sub: filepath.ToSlash(src.Dest), MaxSize: src.UnpackedSize}
	p := CachePath(f.opts.CacheDir, src.SHA256)
	file, err := os.Open(p)
	if isNotExist(err) {
		if f.opts.Offline {
			return &MissingError{File: name, SHA256: src.SHA256, URLs: src.URLs}
		}
		return fmt.Errorf("materialize %s: %w (%s)", name, errNotCached, p)
	}
	if err != nil {
		return fmt.Errorf("materialize %s: %w", name, err)
	}
	defer file.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(file, h), 1<<16)
	head, _ := br.Peek(unpack.HeadSize)
	format := unpack.Detect(head)
	switch format {
	case unpack.None:
		err = copyPlain(br, dest, name)
	case unpack.Zip:
		// A zip needs random access: verify first, then unpack.
		if _, err = io.Copy(io.Discard, br); err == nil && hex.EncodeToString(h.Sum(nil)) == src.SHA256 {
			err = unpack.FileIn(ctx, p, into, src.Strip)
		}
	default:
		err = unpack.StreamIn(ctx, br, name, into, src.Strip)
	}
	if err == nil || !errors.Is(err, syscall.ENOSPC) && ctx.Err() == nil {
		// Hash whatever the unpack left unread: the archive's tail, or
		// all that follows the place it failed, which may be the damage.
		if _, rerr := io.Copy(io.Discard, br); err == nil {
			err = rerr
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != src.SHA256 {
			emptyDir(dest)
			return f.drop(ctx, src, name, p, file, got)
		}
	}
	if err != nil {
		emptyDir(dest)
		return fmt.Errorf("materialize %s: %w", name, err)
	}
	if format == unpack.None {
		fmt.Fprintf(log, "%s: copied into %s\n", name, dest)
	} else {
		fmt.Fprintf(log, "%s: unpacked %s into %s\n", name, format, dest)
	}
	return nil
}

// drop removes the damaged cache entry p, which file was read from, and
// returns the *DamagedError. It holds the entry's lock and removes p only
// if it is still the file that was read, so an entry another run has just
// fetched again is left alone.
func (f *Fetcher) drop(ctx context.Context, src plan.Source, name, p string, file *os.File, got string) error {
	derr := &DamagedError{File: name, Path: p, Want: src.SHA256, Got: got}
	unlock, err := LockEntry(ctx, f.opts.CacheDir, "sha256-"+src.SHA256, name, nil)
	if err != nil {
		return fmt.Errorf("materialize %s: %w (%w)", name, derr, err)
	}
	defer unlock()
	read, err1 := file.Stat()
	now, err2 := os.Stat(p)
	if err1 == nil && err2 == nil && os.SameFile(read, now) {
		os.Remove(p)
	}
	return fmt.Errorf("materialize %s: %w", name, derr)
}

// copyPlain writes r to dest/name.
func copyPlain(r io.Reader, dest, name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("bad file name %q", name)
	}
	out, err := os.OpenFile(filepath.Join(dest, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// emptyDir removes everything inside dir, leaving dir itself.
func emptyDir(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		// A read-only directory cannot be emptied; make it writable.
		filepath.WalkDir(p, func(q string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(q, 0o755)
			}
			return nil
		})
		os.RemoveAll(p)
	}
}

// Download fetches a file whose sha256 is not known yet (for pinning): it
// tries the mirrors by file name, then urls, stores the first file found in
// the cache and returns its sha256. Offline, only local mirrors and file://
// URLs are used. The error names every place tried.
func (f *Fetcher) Download(ctx context.Context, urls []string, filename string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	if filename == "" {
		filename = Filename(plan.Source{URLs: urls})
	}
	cs, err := f.candidates(filename, "", urls)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, c := range cs {
		if c.remote() && f.opts.Offline {
			continue
		}
		var sum string
		if c.remote() {
			sum, err = f.downloadUnknown(ctx, c.url)
		} else {
			sum, err = f.copyLocal(c.local, "", DefaultMaxDownload)
		}
		switch {
		case err == nil:
			fmt.Fprintf(log, "%s: fetched from %s (sha256 %s)\n", filename, c.url, sum)
			return sum, nil
		case errors.Is(err, errNotFound):
			fmt.Fprintf(log, "%s: not at %s\n", filename, c.url)
		case ctx.Err() != nil:
			return "", fmt.Errorf("fetch %s: %w", filename, ctx.Err())
		default:
			errs = append(errs, err)
		}
	}
	if f.opts.Offline && len(errs) == 0 {
		return "", &MissingError{File: filename, URLs: urls}
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("fetch %s: not found at %s", filename, strings.Join(urlsOf(cs), ", "))
	}
	return "", fmt.Errorf("fetch %s: %w", filename, errors.Join(errs...))
}

// downloadUnknown downloads u in one go (no resume: without the hash there
// is nothing to key a partial file by) and stores it under its sha256.
func (f *Fetcher) downloadUnknown(ctx context.Context, u string) (string, error) {
	resp, err := f.request(ctx, u, 0)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case 200:
	case 404, 410:
		return "", fmt.Errorf("fetch %s: %w", u, errNotFound)
	default:
		return "", &statusError{url: u, code: resp.StatusCode}
	}
	tmp, err := newTemp(f.opts.CacheDir)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", u, err)
	}
	defer tmp.discard()
	h := sha256.New()
	body := &limitReader{r: resp.Body, left: DefaultMaxDownload, err: &TooLargeError{URL: u, Limit: DefaultMaxDownload}}
	if _, err := io.Copy(io.MultiWriter(tmp.f, h), body); err != nil {
		return "", fmt.Errorf("fetch %s: %w", u, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := tmp.commit(CachePath(f.opts.CacheDir, sum)); err != nil {
		return "", fmt.Errorf("fetch %s: %w", u, err)
	}
	return sum, nil
}
