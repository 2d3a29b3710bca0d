package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/executor"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/verify"
	"github.com/porterkit/bootstrap/runner/workdir"
)

// writeRecord writes <work>/provenance.json for a run that ended, well or
// not. A run that never started (the work dir was locked, not a work dir
// or not writable, the selection was wrong) leaves the previous record
// alone, and its error is the one the porter reads. It returns an error only
// when the record cannot be written.
func writeRecord(ctx context.Context, p *plan.Plan, o runOptions, place executor.Executor, cache string, started time.Time, sum *runner.Summary, runErr error) error {
	var locked *state.LockedError
	var usage *runner.UsageError
	var work *workdir.Error
	if errors.As(runErr, &locked) || errors.As(runErr, &usage) || errors.As(runErr, &work) || o.DryRun {
		return nil
	}
	r := provenance.Run{
		Plan: p,
		Parameters: map[string]any{
			"from": o.From, "to": o.To, "only": o.Only, "force": o.Force, "forceAll": o.ForceAll,
			"offline": o.Offline, "keepGoing": o.KeepGoing, "mirrors": o.Mirrors, "goproxy": os.Getenv("GOPROXY"),
		},
		Internal:     map[string]any{"workDir": p.WorkDir, "cache": cache, "jobs": o.Jobs},
		Started:      started,
		Finished:     time.Now(),
		InvocationID: state.NewBuildID(),
		Failed:       map[string]provenance.Failure{},
		Host:         provenance.HostFacts(ctx, p.Recipe),
		Version:      provenance.ReadVersion(),
	}
	if x, ok := place.(*executor.Chroot); ok {
		// The steps ran in this tree: its packages are what they used,
		// beside the host's kernel (and qemu).
		r.Host = append(r.Host, rootfsFacts(x)...)
	}
	if sum != nil {
		r.Ran = sum.Ran
	}
	var failed *runner.FailedError
	if errors.As(runErr, &failed) {
		for _, se := range failed.Failed {
			f := provenance.Failure{Exit: se.Exit, Error: se.Err.Error()}
			var mm *verify.MismatchError
			if errors.As(se.Err, &mm) {
				f.Verification = mm.Result
			}
			if f.Exit == 0 {
				f.Exit = 1
			}
			r.Failed[se.Step] = f
		}
	}
	st, err := provenance.Build(r)
	if err != nil {
		return fmt.Errorf("provenance record: %w", err)
	}
	return provenance.Write(p.WorkDir, st)
}

// printVersion is `bootstrap --version`.
func printVersion(w io.Writer) {
	fmt.Fprintln(w, provenance.ReadVersion())
}

// rootfsFacts describes an emulated run's root file system: the tree as a
// whole (its package list's sha256) and each package as a package URL.
func rootfsFacts(x *executor.Chroot) []provenance.ResourceDescriptor {
	id := x.Rootfs.Identity()
	sum := sha256.Sum256([]byte(id))
	out := []provenance.ResourceDescriptor{{
		Name: "rootfs " + x.Rootfs.Spec.Name(), URI: "rootfs:" + x.Rootfs.Spec.String(),
		Digest:      map[string]string{"sha256": hex.EncodeToString(sum[:])},
		Annotations: map[string]any{"packages": len(x.Rootfs.Packages), "linux32": x.Linux32},
	}}
	for _, pkg := range x.Rootfs.Packages {
		out = append(out, provenance.ResourceDescriptor{Name: "rootfs package " + pkg.Name,
			URI: "pkg:deb/debian/" + pkg.Name + "@" + pkg.Version + "?arch=" + pkg.Arch})
	}
	return out
}
