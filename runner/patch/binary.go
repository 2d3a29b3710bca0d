package patch

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// maxBinary bounds a binary fragment's decompressed size, so a corrupt or
// hostile patch cannot make us allocate without limit.
const maxBinary = 1 << 30

// applyBinary applies a git binary patch (literal or delta) to src.
func applyBinary(f *gitdiff.File, src []byte) ([]byte, error) {
	if f.IsDelete && f.BinaryFragment == nil {
		// Deleting needs no data.
		return nil, nil
	}
	// A literal fragment replaces the content whatever it was, so check the
	// blob id on the index line as git apply does; this is also what tells
	// an already applied binary patch apart.
	if id := f.OldOIDPrefix; id != "" && strings.Trim(id, "0") != "" && !f.IsNew {
		if have := blobID(src); !strings.HasPrefix(have, id) {
			return nil, fmt.Errorf("binary file is not the one the patch was made against (index %s, file is %.*s)", id, len(id), have)
		}
	}
	if f.BinaryFragment == nil {
		if f.OldOIDPrefix != "" && f.OldOIDPrefix == f.NewOIDPrefix {
			return src, nil // only the name or mode changes
		}
		return nil, errors.New(`binary patch without data ("Binary files differ"): regenerate it with git diff --binary`)
	}
	var out bytes.Buffer
	a := gitdiff.NewBinaryApplier(&out, bytes.NewReader(src), gitdiff.WithMaxBinaryFragmentBytes(maxBinary))
	if err := a.ApplyFragment(f.BinaryFragment); err != nil {
		return nil, fmt.Errorf("binary patch does not apply: %w", err)
	}
	if err := a.Close(); err != nil {
		return nil, fmt.Errorf("binary patch does not apply: %w", err)
	}
	return out.Bytes(), nil
}

// blobID is git's object id of a blob with this content.
func blobID(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// gitMode turns a git mode (100644, 100755, 120000) into ours.
func gitMode(m os.FileMode) fs.FileMode {
	switch {
	case uint32(m)&0o170000 == 0o120000:
		return fs.ModeSymlink | 0o777
	case m&0o111 != 0:
		return 0o755
	default:
		return 0o644
	}
}

// reverse returns the inverse of a file patch, used to recognise a patch
// that is already applied. ok is false when it cannot be inverted (a binary
// delta without its reverse fragment).
func reverse(fp *filePatch) (*filePatch, bool) {
	f := fp.file
	r := &gitdiff.File{
		OldName: f.NewName, NewName: f.OldName,
		IsNew: f.IsDelete, IsDelete: f.IsNew, IsRename: f.IsRename, IsCopy: f.IsCopy,
		OldMode: f.NewMode, NewMode: f.OldMode, IsBinary: f.IsBinary,
	}
	if f.IsCopy {
		// The reverse of a copy is deleting the copy.
		r = &gitdiff.File{OldName: f.NewName, IsDelete: true}
	}
	if f.IsBinary && f.BinaryFragment != nil {
		switch {
		case f.ReverseBinaryFragment != nil:
			r.BinaryFragment, r.ReverseBinaryFragment = f.ReverseBinaryFragment, f.BinaryFragment
		default:
			return nil, false
		}
	}
	for _, fr := range f.TextFragments {
		rf := &gitdiff.TextFragment{
			OldPosition: fr.NewPosition, OldLines: fr.NewLines,
			NewPosition: fr.OldPosition, NewLines: fr.OldLines,
			LinesAdded: fr.LinesDeleted, LinesDeleted: fr.LinesAdded,
			LeadingContext: fr.LeadingContext, TrailingContext: fr.TrailingContext,
			Comment: fr.Comment,
		}
		rf.Lines = make([]gitdiff.Line, len(fr.Lines))
		for i, l := range fr.Lines {
			switch l.Op {
			case gitdiff.OpAdd:
				l.Op = gitdiff.OpDelete
			case gitdiff.OpDelete:
				l.Op = gitdiff.OpAdd
			}
			rf.Lines[i] = l
		}
		r.TextFragments = append(r.TextFragments, rf)
	}
	rfp := *fp
	rfp.file = r
	n := fp.names
	rfp.names = headerNames{gitOld: n.gitNew, gitNew: n.gitOld, old: n.new, new: n.old, index: n.index}
	return &rfp, true
}
