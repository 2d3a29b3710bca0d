// Command githttpd serves the Git repositories of a directory over smart
// HTTP on a loopback address (runner/source/gitsrc/gittest: git http-backend
// behind net/http/cgi) until it gets SIGINT or SIGTERM. It prints the base
// URL on its first line. For scripts/bench-git.sh.
//
//	githttpd [-v0] [-sha-wants=false] DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/porterkit/bootstrap/runner/source/gitsrc/gittest"
)

func main() {
	v0 := flag.Bool("v0", false, "speak protocol v0 only")
	sha := flag.Bool("sha-wants", true, "allow wants of any commit (uploadpack.allowAnySHA1InWant)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: githttpd [-v0] [-sha-wants=false] DIR")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := gittest.Start(gittest.Options{Root: flag.Arg(0), V0Only: *v0, SHAWants: *sha})
	if err != nil {
		fmt.Fprintln(os.Stderr, "githttpd:", err)
		os.Exit(1)
	}
	fmt.Println(srv.URL)
	<-ctx.Done()
	srv.Close()
}
