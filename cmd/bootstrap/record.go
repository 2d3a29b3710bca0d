package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/provenance"
	"github.com/porterkit/bootstrap/runner/state"
	"github.com/porterkit/bootstrap/runner/verify"
)

// writeRecord writes <work>/provenance.json for a run that ended, well or
// not. A run that never started (the work dir was locked, the selection
// was wrong) leaves the previous record alone. It returns an error only
// when the record cannot be written.
func writeRecord(ctx context.Context, p *plan.Plan, o runOptions, cache string, started time.Time, sum *runner.Summary, runErr error) error {
	var locked *state.LockedError
	var usage *runner.UsageError
	if errors.As(runErr, &locked) || errors.As(runErr, &usage) || o.DryRun {
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
