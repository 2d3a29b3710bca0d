// Package unpack extracts source archives (tar.gz, tar.xz, tar.bz2, tar.zst,
// plain tar and zip) into a directory, detecting the format by its magic
// bytes rather than by the file name, since mirrors and caches rename files.
//
// Extraction is confined to the destination: an entry that would land outside
// it (an absolute or ".." path, a link whose target escapes, a path through a
// symlink that escapes) or that is a device node or fifo makes the whole
// extraction fail with an error naming the archive and the entry. Every write
// goes through an os.Root, or creates a file by a one-element name in a
// directory opened through it, never following a symlink nor reusing a file
// that is there: so even a check overlooked here cannot write outside dest.
//
// Small files are created by a few goroutines while the archive is read on
// (see writers.go); an entry that could touch a file still queued waits
// for it, so the tree is the one a sequential tar would leave.
//
// Regular files keep their permission bits (setuid, setgid and sticky bits
// are dropped, since a source tree has no use for them and a porter may run
// as root); files and directories keep their mtimes; symlinks keep the time
// they were created, because os.Root offers no way to set a link's own time.
package unpack

import (
	"bufio"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ErrNotArchive is returned (wrapped) for input that is none of the
// supported formats; the caller then treats it as a plain file.
var ErrNotArchive = errors.New("not an archive")

// Format is an archive format recognised by its magic bytes.
type Format int

// The formats Detect recognises.
const (
	None Format = iota
	Tar
	TarGz
	TarXz
	TarBz2
	TarZst
	Zip
)

// String names the format the way porters write file extensions.
func (f Format) String() string {
	switch f {
	case Tar:
		return "tar"
	case TarGz:
		return "tar.gz"
	case TarXz:
		return "tar.xz"
	case TarBz2:
		return "tar.bz2"
	case TarZst:
		return "tar.zst"
	case Zip:
		return "zip"
	}
	return "none"
}

// HeadSize is how many leading bytes Detect needs to recognise every format.
const HeadSize = 512

// Detect returns the format of a file whose first bytes are head (up to
// HeadSize of them). A compressed stream is assumed to hold a tar; if it does
// not, unpacking fails later with a tar error.
func Detect(head []byte) Format {
	has := func(off int, magic string) bool {
		return len(head) >= off+len(magic) && string(head[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "\x1f\x8b"):
		return TarGz
	case has(0, "\xfd7zXZ\x00"):
		return TarXz
	case has(0, "BZh"):
		return TarBz2
	case has(0, "\x28\xb5\x2f\xfd"):
		return TarZst
	case has(0, "PK\x03\x04"), has(0, "PK\x05\x06"):
		return Zip
	case has(257, "ustar"):
		return Tar
	}
	return None
}

// File unpacks the archive at archivePath into dest (created if missing),
// dropping strip leading path components from every entry. It returns an
// error wrapping ErrNotArchive when the file is not a supported archive, so
// the caller can copy it instead; any other error names the archive.
func File(ctx context.Context, archivePath, dest string, strip int) error {
	return FileIn(ctx, archivePath, Dest{Root: dest}, strip)
}

// Dest is where an archive goes: Sub (a relative path, "" for Root itself)
// inside Root. Nothing is written outside Root, and links are checked
// against Root, not Sub: a Debian tarball unpacked at debian/ may link to
// ../engine/…, as dpkg-source allows.
type Dest struct {
	Root string
	Sub  string
	// MaxSize is the most the archive may unpack to, in bytes: the sum of
	// its regular files' sizes, a sparse file counted at its full logical
	// size (it is written out densely). 0 means DefaultMaxSize. Reaching
	// it stops the unpack with a *TooLargeError before the file that
	// would pass it is written, so a bomb fails on its limit, not on a
	// full disk.
	MaxSize int64
}

// DefaultMaxSize is the unpack limit of an archive whose recipe gives no
// unpacked_size: the chain's largest tree (go1.19.8's source, 114 MB from
// a 26.5 MB tarball; Docker 20.10.24's largest, 19 MB) fits thirty times
// over, so does a GCC or Linux source tree, and a board's disk still
// outlasts it.
const DefaultMaxSize = 4 << 30

// TooLargeError is an archive that unpacks to more than its limit.
type TooLargeError struct {
	// Archive names the archive; Entry is the entry that would pass the
	// limit; Limit is the limit in bytes.
	Archive string
	Entry   string
	Limit   int64
}

// Error names the archive, the limit and what raises it.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("unpack %s: it unpacks to more than its limit of %d bytes (at entry %q); if the archive is right, raise the limit with unpacked_size: in the recipe's source",
		e.Archive, e.Limit, e.Entry)
}

// FileIn is File with the destination inside a larger tree.
func FileIn(ctx context.Context, archivePath string, dest Dest, strip int) error {
	f, err := os.Open(archivePath)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	head, _ := br.Peek(HeadSize)
	switch Detect(head) {
	case None:
		return fmt.Errorf("unpack %s: %w", archivePath, ErrNotArchive)
	case Zip:
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("unpack %s: %w", archivePath, err)
		}
		return unzip(ctx, f, st.Size(), archivePath, dest, strip)
	}
	return StreamIn(ctx, br, archivePath, dest, strip)
}

// Stream unpacks a tar archive, compressed or not, read from r into dest. name
// is used in errors. Zip needs random access, so for a zip (or anything that
// is not a tar) Stream returns an error wrapping ErrNotArchive; callers that
// may see zips use File. Stream does not read r past the end of the archive's
// compressed stream in any guaranteed way: a caller hashing r must drain it.
func Stream(ctx context.Context, r io.Reader, name, dest string, strip int) error {
	return StreamIn(ctx, r, name, Dest{Root: dest}, strip)
}

// StreamIn is Stream with the destination inside a larger tree.
func StreamIn(ctx context.Context, r io.Reader, name string, dest Dest, strip int) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	head, _ := br.Peek(HeadSize)
	format := Detect(head)
	var dec io.Reader
	switch format {
	case Tar:
		dec = br
	case TarGz:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("unpack %s: gzip: %w", name, err)
		}
		defer zr.Close()
		dec = zr
	case TarXz:
		xr, err := xz.NewReader(br)
		if err != nil {
			return fmt.Errorf("unpack %s: xz: %w", name, err)
		}
		dec = xr
	case TarBz2:
		dec = bzip2.NewReader(br)
	case TarZst:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fmt.Errorf("unpack %s: zstd: %w", name, err)
		}
		defer zr.Close()
		dec = zr
	default:
		return fmt.Errorf("unpack %s: %w (it is %s)", name, ErrNotArchive, format)
	}
	if format != Tar {
		// Decompress in a goroutine so that inflating and writing files
		// overlap, as `tar xzf` overlaps gzip and tar.
		ra := newReadahead(dec)
		defer ra.Close()
		dec = ra
	}
	return untar(ctx, dec, name, dest, strip)
}
