package gitsrc

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/porterkit/bootstrap/runner/unpack"
)

// archiveCheckout writes the tree of commit into dest from `git archive`,
// when the git command is installed: git inflates and resolves the blobs
// (in C, with its bounded delta-base cache) and streams them as a tar,
// which is written the way checkout writes go-git's objects: confined to
// dest, files with the time of checkout, symlinks kept whatever their
// target. The commit is still ours to check: the archive's global header
// must name the pinned commit, which the caller found in the cache by its
// full hash. Submodule entries are left as empty directories.
//
// The tree is written exactly as committed, as go-git's checkout writes it
// (BOOTSTRAP_GIT=none): one commit must give one tree whichever backend
// runs, since only the commit goes into signatures. So no export
// attributes apply: --worktree-attributes makes git read .gitattributes
// from the work tree instead of from the archived tree, and a bare
// repository (cmd.Dir, so no caller's directory counts as one) has none;
// the user's and the system's attribute files are switched off too.
func archiveCheckout(ctx context.Context, gitCmd, repoPath, commit, dest string) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, gitCmd, "--git-dir="+repoPath, "-c", "core.attributesFile=/dev/null",
		"archive", "--worktree-attributes", "--format=tar", commit)
	cmd.Dir = repoPath
	cmd.Env = append(os.Environ(), "GIT_ATTR_NOSYSTEM=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			cancel() // stop git rather than wait for a reader that left
		}
		werr := cmd.Wait()
		if err == nil && werr != nil {
			err = fmt.Errorf("git archive: %w: %s", werr, strings.TrimSpace(stderr.String()))
		}
	}()
	out, err := unpack.NewTree(unpack.Dest{Root: dest}, unpack.TreeOptions{LinksMayEscape: true})
	if err != nil {
		return err
	}
	err = writeArchive(ctx, tar.NewReader(pipe), out, commit)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = io.Copy(io.Discard, pipe) // tar's trailing blocks
	}
	return err
}

// writeArchive writes the entries of git archive's tar into out and checks
// that its global header names commit.
func writeArchive(ctx context.Context, tr *tar.Reader, out *unpack.Tree, commit string) error {
	named := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("git archive: %w", err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			if got := hdr.PAXRecords["comment"]; got != commit {
				return fmt.Errorf("git archive names commit %q, not the pinned %s", got, commit)
			}
			named = true
		case tar.TypeDir:
			err = out.Dir(name, 0o755, time.Time{})
		case tar.TypeReg:
			mode := fs.FileMode(0o644)
			if hdr.Mode&0o100 != 0 {
				mode = 0o755
			}
			err = out.File(name, mode, time.Time{}, hdr.Size, tr)
		case tar.TypeSymlink:
			err = out.Symlink(name, hdr.Linkname)
		default:
			err = fmt.Errorf("%s: unexpected entry type %q in git archive", name, hdr.Typeflag)
		}
		if err != nil {
			return err
		}
	}
	if !named {
		return fmt.Errorf("git archive did not name its commit")
	}
	return nil
}
