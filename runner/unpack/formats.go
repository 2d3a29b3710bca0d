package unpack

import (
	"archive/tar"
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
)

// untar extracts a tar stream; on any error the extraction stops there.
func untar(ctx context.Context, r io.Reader, archive string, dst Dest, strip int) error {
	x, err := newExtractor(archive, dst)
	if err != nil {
		return err
	}
	defer x.close()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("unpack %s: %w", archive, err)
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", archive, err)
		}
		if err := x.tarEntry(tr, h, strip); err != nil {
			return err
		}
	}
	return x.finish()
}

func (x *extractor) tarEntry(tr *tar.Reader, h *tar.Header, strip int) error {
	switch h.Typeflag {
	case tar.TypeXGlobalHeader:
		// pax global headers (git archive writes one) carry no file.
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.entryError(h.Name, errors.New("device nodes and fifos are not allowed in a source archive"))
	}
	rel, err := x.name(h.Name, strip)
	if err != nil {
		return x.entryError(h.Name, err)
	}
	mode := fs.FileMode(h.Mode).Perm()
	switch h.Typeflag {
	case tar.TypeDir:
		return x.dir(h.Name, rel, mode, h.ModTime)
	case tar.TypeReg, tar.TypeChar - 1 /* TypeLink is handled below */ :
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		return x.file(h.Name, rel, mode, h.ModTime, h.Size, tr)
	case tar.TypeSymlink:
		return x.symlink(h.Name, rel, h.Linkname)
	case tar.TypeLink:
		return x.hardlink(h.Name, rel, h.Linkname, strip)
	}
	return x.entryError(h.Name, fmt.Errorf("unsupported tar entry type %q", h.Typeflag))
}

// unzip extracts a zip archive, which needs random access to its directory.
func unzip(ctx context.Context, r io.ReaderAt, size int64, archive string, dst Dest, strip int) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", archive, err)
	}
	x, err := newExtractor(archive, dst)
	if err != nil {
		return err
	}
	defer x.close()
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("unpack %s: %w", archive, err)
		}
		if err := x.zipEntry(f, strip); err != nil {
			return err
		}
	}
	return x.finish()
}

// maxZipLink bounds the size of a zip symlink entry, whose content is the
// link target.
const maxZipLink = 4096

func (x *extractor) zipEntry(f *zip.File, strip int) error {
	rel, err := x.name(f.Name, strip)
	if err != nil {
		return x.entryError(f.Name, err)
	}
	mode := f.Mode()
	switch {
	case mode.IsDir():
		return x.dir(f.Name, rel, mode.Perm(), f.Modified)
	case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
		return x.entryError(f.Name, errors.New("device nodes and fifos are not allowed in a source archive"))
	}
	rc, err := f.Open()
	if err != nil {
		return x.entryError(f.Name, err)
	}
	defer rc.Close()
	if mode&fs.ModeSymlink != 0 {
		target, err := io.ReadAll(io.LimitReader(rc, maxZipLink+1))
		if err == nil && len(target) > maxZipLink {
			err = errors.New("symlink target too long")
		}
		if err != nil {
			return x.entryError(f.Name, err)
		}
		return x.symlink(f.Name, rel, string(target))
	}
	perm := mode.Perm()
	if perm == 0 {
		// Zips made on Windows carry no Unix mode.
		perm = 0o644
	}
	// archive/zip fails an entry that inflates past its declared size, so
	// the declared size is what it can write.
	if f.UncompressedSize64 > math.MaxInt64 {
		return x.entryError(f.Name, errors.New("impossible size"))
	}
	size := int64(f.UncompressedSize64) // file accounts for it
	if size > maxQueued {
		if err := x.account(f.Name, size); err != nil {
			return err
		}
		size = -1 // streamed
	}
	return x.file(f.Name, rel, perm, f.Modified, size, rc)
}
