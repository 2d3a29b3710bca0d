package patch

import (
	"fmt"
	"io"
	"strings"
)

// Change is what a patch did to one file.
type Change string

// The changes a file record can hold.
const (
	Modified Change = "modify"
	Created  Change = "create"
	Deleted  Change = "delete"
	Renamed  Change = "rename"
	Copied   Change = "copy"
)

// Record is the account of one Apply: every patch, file and hunk, with
// where each hunk landed. It is stored in the patch step's checkpoint, so
// it is plain JSON.
type Record struct {
	Patches []PatchRecord `json:"patches"`
}

// PatchRecord is one applied patch file.
type PatchRecord struct {
	// File is the patch file's path.
	File string `json:"file"`
	// Strip is the -pN level it was applied with.
	Strip int          `json:"strip"`
	Files []FileRecord `json:"files"`
}

// FileRecord is one file changed by a patch.
type FileRecord struct {
	// Path is the file's path relative to the tree after the patch;
	// OldPath its path before, for a rename or copy.
	Path    string `json:"path"`
	OldPath string `json:"old_path,omitempty"`
	Change  Change `json:"change"`
	// Mode is the new mode in octal ("755", "644", "120000" for a symlink)
	// when the patch sets it.
	Mode   string       `json:"mode,omitempty"`
	Binary bool         `json:"binary,omitempty"`
	Hunks  []HunkRecord `json:"hunks,omitempty"`
}

// HunkRecord is where one hunk was applied.
type HunkRecord struct {
	// Header is the hunk's "@@ -a,b +c,d @@" line; PatchLine its line in
	// the patch file.
	Header    string `json:"header"`
	PatchLine int    `json:"patch_line,omitempty"`
	// Line is the 1-based line of the file (before this hunk) where the
	// hunk's old lines began; Offset is Line minus the header's line.
	Line   int `json:"line"`
	Offset int `json:"offset"`
	// Fuzz is how many context lines had to be ignored at each end.
	Fuzz int `json:"fuzz"`
	// LineEndings is true when the hunk matched only by treating CRLF and
	// LF as equal; added lines then got the file's line ending.
	LineEndings bool `json:"line_endings,omitempty"`
}

// Offsets reports whether any hunk needed an offset or fuzz (a hint that
// the patch could be refreshed).
func (r *PatchRecord) Offsets() bool {
	for _, f := range r.Files {
		for _, h := range f.Hunks {
			if h.Offset != 0 || h.Fuzz != 0 || h.LineEndings {
				return true
			}
		}
	}
	return false
}

// writeLog writes the human account of one patch.
func (r *PatchRecord) writeLog(w io.Writer) {
	if len(r.Files) == 0 {
		fmt.Fprintf(w, "  (no file changes in this patch)\n")
	}
	for _, f := range r.Files {
		what := string(f.Change)
		if f.OldPath != "" {
			what += " from " + f.OldPath
		}
		var extra []string
		if f.Mode != "" {
			extra = append(extra, "mode "+f.Mode)
		}
		if f.Binary {
			extra = append(extra, "binary")
		}
		if len(extra) > 0 {
			what += " (" + strings.Join(extra, ", ") + ")"
		}
		fmt.Fprintf(w, "  %s: %s\n", f.Path, what)
		for i, h := range f.Hunks {
			fmt.Fprintf(w, "    hunk #%d %s applied at line %d, offset %+d, fuzz %d", i+1, h.Header, h.Line, h.Offset, h.Fuzz)
			if h.LineEndings {
				fmt.Fprintf(w, ", line endings adapted")
			}
			fmt.Fprintln(w)
		}
	}
}
