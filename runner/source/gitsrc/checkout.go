package gitsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner/unpack"
)

// Reading blobs (inflating them and applying their deltas) is most of a
// checkout's CPU time, and a go-git storer is not safe for concurrent use:
// so goroutines (one per two cores: the files are written on the others),
// each with the repository opened on its own, read the small blobs ahead of
// the goroutine that writes the tree.
const (
	// readAhead is how many entries may be read ahead of the writer, and
	// maxReadAhead the largest blob read ahead; a larger one is streamed
	// by the writer. Together they bound the memory held (16 MiB).
	readAhead    = 64
	maxReadAhead = 256 << 10
	// readerCache is each reader's cache of objects, which keeps the
	// bases of deltas at hand.
	readerCache = 32 * cache.MiByte
)

// pending is one tree entry on its way from the walker to the writer.
type pending struct {
	name  string
	entry object.TreeEntry
	size  int64
	data  []byte // read ahead; nil for a blob the writer streams
	err   error
	done  chan struct{} // closed once data, size and err are set
}

// checkout writes the tree of c (read from the bare repository at
// repoPath) into dest the way an archive is unpacked (see unpack.Tree):
// confined to dest, so no entry nor symlink of the tree can make it write
// outside, with small files created by a few goroutines. Symlinks are kept
// whatever their target, as git keeps them. Submodule entries are left as
// empty directories for the caller.
func checkout(ctx context.Context, repoPath string, c *object.Commit, dest string) error {
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	out, err := unpack.NewTree(unpack.Dest{Root: dest}, unpack.TreeOptions{LinksMayEscape: true})
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	order := make(chan *pending, readAhead)
	jobs := make(chan *pending, readAhead)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		walk(tree, order, jobs, stop)
	}()
	for range max(1, runtime.NumCPU()/2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readBlobs(repoPath, jobs)
		}()
	}
	err = writeTree(ctx, repoPath, out, order)
	close(stop)
	for range order {
		// Let the walker see stop.
	}
	wg.Wait()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// walk sends every entry of tree, in order, to order, and the blobs to
// jobs too, until the end or stop.
func walk(tree *object.Tree, order, jobs chan<- *pending, stop <-chan struct{}) {
	defer close(order)
	defer close(jobs)
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			return
		}
		p := &pending{name: name, entry: e, err: err, done: make(chan struct{})}
		blob := err == nil && e.Mode.IsFile()
		if !blob {
			close(p.done)
		}
		select {
		case order <- p:
		case <-stop:
			return
		}
		if blob {
			jobs <- p // the readers take every job, whatever the writer does
		}
		if err != nil {
			return
		}
	}
}

// readBlobs reads the blobs sent to jobs, through its own opening of the
// repository.
func readBlobs(repoPath string, jobs <-chan *pending) {
	st := openStorer(repoPath)
	defer st.Close()
	for p := range jobs {
		p.size = -1
		blob, err := object.GetBlob(st, p.entry.Hash)
		if err == nil && blob.Size <= maxReadAhead {
			p.size = blob.Size
			p.data, err = readBlob(blob)
		}
		p.err = err
		close(p.done)
	}
}

func readBlob(b *object.Blob) ([]byte, error) {
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data := make([]byte, b.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, err
	}
	return data, nil
}

// writeTree writes the entries from order into out, as they come; it streams
// the blobs that were too large to read ahead through its own opening of
// the repository.
func writeTree(ctx context.Context, repoPath string, out *unpack.Tree, order <-chan *pending) error {
	var st *filesystem.Storage
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	for p := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		<-p.done
		if p.err != nil {
			return fmt.Errorf("%s: %w", p.name, p.err)
		}
		var r io.Reader
		if p.entry.Mode.IsFile() {
			if p.data != nil || p.size == 0 {
				r = bytes.NewReader(p.data)
			} else {
				if st == nil {
					st = openStorer(repoPath)
				}
				blob, err := object.GetBlob(st, p.entry.Hash)
				if err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
				br, err := blob.Reader()
				if err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
				err = writeEntry(out, p.name, p.entry.Mode, blob.Size, br)
				br.Close()
				if err != nil {
					return err
				}
				continue
			}
		}
		if err := writeEntry(out, p.name, p.entry.Mode, p.size, r); err != nil {
			return err
		}
	}
	return nil
}

// writeEntry writes one entry of the tree, whose content (for a file or a
// symlink) r holds; git records no times, so files get the time they are
// written, as git checks them out.
func writeEntry(out *unpack.Tree, name string, mode filemode.FileMode, size int64, r io.Reader) error {
	switch mode {
	case filemode.Dir, filemode.Submodule:
		return out.Dir(name, 0o755, time.Time{})
	case filemode.Symlink:
		target, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return out.Symlink(name, string(target))
	case filemode.Regular, filemode.Deprecated:
		return out.File(name, 0o644, time.Time{}, size, r)
	case filemode.Executable:
		return out.File(name, 0o755, time.Time{}, size, r)
	}
	return fmt.Errorf("%s: unsupported mode %v", name, mode)
}

// eachSubmodule calls fn with a source for every submodule of c, in tree
// order, resolving relative submodule URLs against parentURL as git does.
func (f *Fetcher) eachSubmodule(ctx context.Context, parentURL string, c *object.Commit, fn func(plan.Source) error) error {
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("git %s: %w", parentURL, err)
	}
	var links []object.TreeEntry
	var paths []string
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("git %s: %w", parentURL, err)
		}
		if e.Mode == filemode.Submodule {
			links, paths = append(links, e), append(paths, name)
		}
	}
	if len(links) == 0 {
		return nil
	}
	modules, err := readModules(tree)
	if err != nil {
		return fmt.Errorf("git %s: .gitmodules at %s: %w", parentURL, c.Hash, err)
	}
	for i, e := range links {
		m, ok := modules[paths[i]]
		if !ok {
			return fmt.Errorf("git %s: submodule %s has no entry in .gitmodules", parentURL, paths[i])
		}
		u, err := subURL(parentURL, m.URL)
		if err != nil {
			return fmt.Errorf("git %s: submodule %s: %w", parentURL, paths[i], err)
		}
		sub := plan.Source{Kind: "git", Repo: u, Commit: e.Hash.String(), Submodules: true, Dest: paths[i]}
		if err := fn(sub); err != nil {
			return err
		}
	}
	return nil
}

// readModules parses .gitmodules from tree, keyed by submodule path.
func readModules(tree *object.Tree) (map[string]*config.Submodule, error) {
	file, err := tree.File(".gitmodules")
	if err != nil {
		return nil, err
	}
	text, err := file.Contents()
	if err != nil {
		return nil, err
	}
	m := config.NewModules()
	if err := m.Unmarshal([]byte(text)); err != nil {
		return nil, err
	}
	byPath := map[string]*config.Submodule{}
	for _, s := range m.Submodules {
		byPath[path.Clean(s.Path)] = s
	}
	return byPath, nil
}

// subURL resolves a submodule URL; "./x" and "../x" are relative to the
// superproject's URL, taken as a directory.
func subURL(parent, sub string) (string, error) {
	if !strings.HasPrefix(sub, "./") && !strings.HasPrefix(sub, "../") {
		return sub, nil
	}
	u, err := url.Parse(parent)
	switch {
	case err == nil && u.Scheme != "":
	case !strings.Contains(parent, ":"):
		return path.Join(parent, sub), nil
	default:
		return "", errors.New("cannot resolve a relative submodule URL against " + parent)
	}
	u.Path = path.Join(u.Path, sub)
	return u.String(), nil
}

// openStorer opens the bare repository at repoPath for one goroutine's
// reads, keeping its pack files open: by default go-git opens and closes
// the pack for every object it reads.
func openStorer(repoPath string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(repoPath), cache.NewObjectLRU(readerCache), filesystem.Options{KeepDescriptors: true})
}
