// Command genrepo writes a git fast-import stream of a large repository
// with a long history, for the benchmark of git sources
// (scripts/bench-git.sh): the first commit adds -files files of about 5 KB
// under 300 directories; each of the -commits later commits rewrites
// -changes of the first -hot files with 14 KB of new text, which neither
// compresses much nor deltifies, so that the history is large and the tip
// is a tree of a real upstream's size. The output depends only on the flags.
//
//	go run ./scripts/genrepo | git --git-dir=big.git fast-import
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
)

func main() {
	files := flag.Int("files", 6000, "files in the tree")
	hot := flag.Int("hot", 2000, "files that later commits rewrite")
	commits := flag.Int("commits", 3000, "commits after the first")
	changes := flag.Int("changes", 10, "files each later commit rewrites")
	flag.Parse()
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(n int) []byte {
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n;(){}"
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	path := func(f int) string { return fmt.Sprintf("src/pkg%03d/file%05d.c", f%300, f) }
	blob := func(f, size int) {
		data := text(size)
		fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n", path(f), len(data))
		w.Write(data)
		w.WriteString("\n")
	}
	for c := 0; c <= *commits; c++ {
		msg := fmt.Sprintf("commit %d", c)
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@localhost> %d +0000\ndata %d\n%s\n", c+1, 1500000000+c*600, len(msg), msg)
		if c > 0 {
			fmt.Fprintf(w, "from :%d\n", c)
			for range *changes {
				blob(rng.IntN(*hot), 14<<10)
			}
			continue
		}
		for f := range *files {
			blob(f, 3<<10+rng.IntN(4<<10))
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "genrepo:", err)
		os.Exit(1)
	}
}
