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

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/unpack"
)

// Materialize unpacks src's cached file at src.Dest inside tree with
// src.Strip, or copies it to <dest>/<file name> when it is not an archive;
// links are checked against the whole tree. The file is hashed while it is unpacked, in the same pass, so a
// cache entry damaged on disk is caught: then dest is emptied, the entry
// removed and an error returned. Any error names the file; dest is emptied
// on error.
func (f *Fetcher) Materialize(ctx context.Context, src plan.Source, tree string, log io.Writer) error {
	dest := filepath.Join(tree, src.Dest)
	into := unpack.Dest{Root: tree, Sub: filepath.ToSlash(src.Dest)}
	if log == nil {
		log = io.Discard
	}
	name := Filename(src)
	if !validSHA256(src.SHA256) {
		return fmt.Errorf("materialize %s: sha256 %q is not 64 lowercase hex digits", name, src.SHA256)
	}
	p := CachePath(f.opts.CacheDir, src.SHA256)
	file, err := os.Open(p)
	if isNotExist(err) {
		if f.opts.Offline {
			return &MissingError{File: name, SHA256: src.SHA256, URLs: src.URLs}
		}
		return fmt.Errorf("materialize %s: not in the cache (%s); fetch it first", name, p)
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
		if err == nil {
			// Hash whatever follows the archive's end too.
			_, err = io.Copy(io.Discard, br)
		}
	}
	if err != nil {
		emptyDir(dest)
		return fmt.Errorf("materialize %s: %w", name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != src.SHA256 {
		emptyDir(dest)
		file.Close()
		os.Remove(p)
		return fmt.Errorf("materialize %s: cached file %s is damaged (sha256 %s, expected %s); removed it, fetch again", name, p, got, src.SHA256)
	}
	if format == unpack.None {
		fmt.Fprintf(log, "%s: copied into %s\n", name, dest)
	} else {
		fmt.Fprintf(log, "%s: unpacked %s into %s\n", name, format, dest)
	}
	return nil
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
			sum, err = f.copyLocal(c.local, "")
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
	if _, err := io.Copy(io.MultiWriter(tmp.f, h), resp.Body); err != nil {
		return "", fmt.Errorf("fetch %s: %w", u, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := tmp.commit(CachePath(f.opts.CacheDir, sum)); err != nil {
		return "", fmt.Errorf("fetch %s: %w", u, err)
	}
	return sum, nil
}
