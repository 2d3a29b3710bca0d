package main

import (
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/source"
)

// sourceOptions are the flags that say where sources come from.
type sourceOptions struct {
	// Cache is the content-addressed cache dir.
	Cache string
	runner.SourceConfig
}

// sourceFlags are --cache and the flags of sourceOptions.
func sourceFlags() []cli.Flag {
	return []cli.Flag{
		cacheFlag(),
		&cli.StringSliceFlag{Name: "mirror", Usage: "look for sources in `DIR|URL` first (repeatable; also $BOOTSTRAP_MIRRORS, space-separated)"},
		&cli.BoolFlag{Name: "offline", Usage: "never use the network; fail naming every source missing from the cache"},
		&cli.DurationFlag{Name: "stall-timeout", Usage: "cut and retry a download that receives nothing for `D`", DefaultText: "1m"},
		&cli.IntFlag{Name: "retries", Usage: "retry a cut or failed (5xx) download `N` times, resuming; -1 for none", DefaultText: "3"},
		&cli.DurationFlag{Name: "retry-wait", Usage: "wait `D` before the first retry, doubling after each", DefaultText: "1s"},
	}
}

// sourceOptionsFrom reads sourceFlags, adding $BOOTSTRAP_MIRRORS.
func sourceOptionsFrom(c *cli.Context) sourceOptions {
	o := sourceOptions{Cache: c.String("cache"), SourceConfig: runner.SourceConfig{Mirrors: c.StringSlice("mirror"), Offline: c.Bool("offline"),
		StallTimeout: c.Duration("stall-timeout"), Retries: c.Int("retries"), RetryWait: c.Duration("retry-wait")}}
	o.Mirrors = append(o.Mirrors, strings.Fields(os.Getenv("BOOTSTRAP_MIRRORS"))...)
	return o
}

// set builds the fetchers for every source kind (runner.NewSources).
// progress receives the byte progress of downloads (nil for none).
func (o sourceOptions) set(progress io.Writer) (source.Set, error) {
	cache, err := cacheDir(o.Cache)
	if err != nil {
		return nil, err
	}
	return runner.NewSources(cache, o.SourceConfig, progress), nil
}
