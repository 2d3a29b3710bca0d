package verify

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/runner/unpack"
)

// Entry is one member of an archive, as far as comparing two archives
// needs: what it is called, how big, what it holds, and its mode and time.
type Entry struct {
	Name     string      `json:"name"`
	Size     int64       `json:"size"`
	SHA256   string      `json:"sha256"`
	Mode     fs.FileMode `json:"mode"`
	Modified time.Time   `json:"modified"`
}

// Entries lists the members of a zip or a (compressed) tar archive in
// archive order, hashing each one's content. Errors name the archive.
func Entries(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	head, _ := br.Peek(unpack.HeadSize)
	switch unpack.Detect(head) {
	case unpack.Zip:
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		return zipEntries(f, st.Size(), path)
	case unpack.Tar:
		return tarEntries(br, path)
	case unpack.TarGz:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return tarEntries(zr, path)
	}
	return nil, fmt.Errorf("%s: %w (verify lists the files of zip, tar and tar.gz archives)", path, unpack.ErrNotArchive)
}

func zipEntries(r io.ReaderAt, size int64, path string) ([]Entry, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]Entry, 0, len(zr.File))
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, zf.Name, err)
		}
		e, err := entry(zf.Name, zf.Mode(), zf.Modified, rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, zf.Name, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func tarEntries(r io.Reader, path string) ([]Entry, error) {
	tr := tar.NewReader(r)
	var out []Entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		e, err := entry(h.Name, h.FileInfo().Mode(), h.ModTime, tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
		if h.Typeflag == tar.TypeSymlink {
			e.SHA256 = "link:" + h.Linkname
		}
		out = append(out, e)
	}
}

func entry(name string, mode fs.FileMode, mtime time.Time, r io.Reader) (Entry, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: mode, Modified: mtime.UTC()}, nil
}

// Difference is one member that is not the same in both archives. Built or
// Official is nil when the member is only in the other archive. Against
// another component's build (AgainstIndependent), Official is that build's
// member: the field keeps its name so that records stay readable alike.
type Difference struct {
	Name     string `json:"name"`
	Built    *Entry `json:"built,omitempty"`
	Official *Entry `json:"official,omitempty"`
}

// String says what differs, in one line, against an official archive.
func (d Difference) String() string { return d.Describe("official") }

// Describe says what differs, in one line; ref names the reference side:
// "official", or the component that built it independently.
func (d Difference) Describe(ref string) string {
	official := ref == "official"
	switch {
	case d.Official == nil && official:
		return fmt.Sprintf("%s: only in the built archive (size %d, sha256 %s, mode %v)", d.Name, d.Built.Size, short(d.Built.SHA256), d.Built.Mode)
	case d.Official == nil:
		return fmt.Sprintf("%s: only in this build, not in %s's (size %d, sha256 %s, mode %v)", d.Name, ref, d.Built.Size, short(d.Built.SHA256), d.Built.Mode)
	case d.Built == nil && official:
		return fmt.Sprintf("%s: missing from the built archive (official: size %d, sha256 %s, mode %v)", d.Name, d.Official.Size, short(d.Official.SHA256), d.Official.Mode)
	case d.Built == nil:
		return fmt.Sprintf("%s: only in %s's build (size %d, sha256 %s, mode %v)", d.Name, ref, d.Official.Size, short(d.Official.SHA256), d.Official.Mode)
	}
	b, o := d.Built, d.Official
	s := d.Name + ":"
	if b.Size != o.Size {
		s += fmt.Sprintf(" size %d, %s %d;", b.Size, ref, o.Size)
	}
	bl, bLink := strings.CutPrefix(b.SHA256, "link:")
	ol, oLink := strings.CutPrefix(o.SHA256, "link:")
	switch {
	case b.SHA256 == o.SHA256:
	case bLink && oLink:
		s += fmt.Sprintf(" symlink to %s, %s to %s;", bl, ref, ol)
	default:
		s += fmt.Sprintf(" sha256 %s, %s %s;", short(b.SHA256), ref, short(o.SHA256))
	}
	if b.Mode != o.Mode {
		s += fmt.Sprintf(" mode %v, %s %v;", b.Mode, ref, o.Mode)
	}
	if !b.Modified.Equal(o.Modified) {
		s += fmt.Sprintf(" time %s, %s %s;", b.Modified.Format(time.RFC3339), ref, o.Modified.Format(time.RFC3339))
	}
	return s[:len(s)-1]
}

func short(sum string) string {
	if strings.HasPrefix(sum, "link:") {
		return sum // a symlink's target, not a digest: shown whole
	}
	if len(sum) > 16 {
		return sum[:16] + "…"
	}
	return sum
}

// Diff compares the members of two archives by name: every member missing
// from either side or differing in size, content, mode or time, in the
// built archive's order and then the official one's.
func Diff(built, official []Entry) []Difference {
	off := make(map[string]*Entry, len(official))
	for i := range official {
		off[official[i].Name] = &official[i]
	}
	seen := make(map[string]bool, len(built))
	var out []Difference
	for i := range built {
		b := &built[i]
		seen[b.Name] = true
		o := off[b.Name]
		if o == nil || b.Size != o.Size || b.SHA256 != o.SHA256 || b.Mode != o.Mode || !b.Modified.Equal(o.Modified) {
			out = append(out, Difference{Name: b.Name, Built: b, Official: o})
		}
	}
	for i := range official {
		if !seen[official[i].Name] {
			out = append(out, Difference{Name: official[i].Name, Official: &official[i]})
		}
	}
	return out
}
