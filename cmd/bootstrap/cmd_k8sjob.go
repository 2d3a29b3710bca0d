package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/k8sjob"
	"github.com/porterkit/bootstrap/runner/provenance"
)

// k8sJobOptions are the flags of `bootstrap k8s-job`.
type k8sJobOptions struct {
	k8sjob.Options
	// Output is the file to write, "-" for standard output.
	Output string
}

func k8sJobCommand() *cli.Command {
	return &cli.Command{
		Name:      "k8s-job",
		Usage:     "write Kubernetes manifests that run a recipe as a Job on a node of the target's architecture",
		ArgsUsage: "RECIPE [-- RUN-ARGS...]",
		Description: "Writes, as one YAML stream for kubectl apply -f: an immutable ConfigMap holding the recipe,\n" +
			"the recipes it extends and its patches; a PersistentVolumeClaim for the work dir and cache (unless\n" +
			"--pvc names one), so a pod rescheduled elsewhere resumes from its checkpoints; and the Job, pinned\n" +
			"by the node label kubernetes.io/arch (armhf, armel and 386 also by " + k8sjob.VariantLabel + ",\n" +
			"which the cluster's admin sets), whose pod failure policy ignores node disruptions and fails at once\n" +
			"on exit 2 (a bad recipe). Arguments after -- go to bootstrap run (-- --to go:make).\n" +
			"The image must hold bootstrap on PATH and the recipe's host tools; see docs/k8s.md.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Usage: "build for `TARGET` (required)"},
			&cli.StringFlag{Name: "image", Usage: "container `IMAGE` with bootstrap and the recipe's host tools", DefaultText: "$BOOTSTRAP_IMAGE"},
			&cli.StringFlag{Name: "pvc", Usage: "use the existing PersistentVolumeClaim `NAME` instead of making one"},
			&cli.StringFlag{Name: "storage", Usage: "`SIZE` of the claim made, like 50G", DefaultText: "the recipe's host.disk, else " + k8sjob.DefaultStorage},
			&cli.StringFlag{Name: "storage-class", Usage: "storage `CLASS` of the claim made", DefaultText: "the cluster's default"},
			&cli.StringFlag{Name: "namespace", Usage: "put every object in namespace `NS`", DefaultText: "kubectl's"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "bootstrap run -j `N`", DefaultText: "bootstrap's"},
			&cli.GenericFlag{Name: "env", Value: &envValues{}, Usage: "set `NAME=VALUE` in the container, for ${{ env.NAME }} in the recipe (repeatable)"},
			&cli.IntFlag{Name: "backoff-limit", Usage: "`N` failed pods the Job tolerates, node disruptions not counted", Value: k8sjob.DefaultBackoffLimit},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (- for standard output)", Value: "-"},
		},
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, -1, "RECIPE --target TARGET [-- RUN-ARGS...]")
			if err != nil {
				return err
			}
			o := k8sJobOptions{Options: k8sjob.Options{Recipe: a[0], RunArgs: a[1:], Target: c.String("target"),
				Image: c.String("image"), PVC: c.String("pvc"), Storage: c.String("storage"),
				StorageClass: c.String("storage-class"), Namespace: c.String("namespace"), Jobs: c.Int("jobs"),
				BackoffLimit: int32(c.Int("backoff-limit")), Env: *c.Generic("env").(*envValues)}, Output: c.String("output")}
			if o.Image == "" {
				o.Image = os.Getenv("BOOTSTRAP_IMAGE")
			}
			return runK8sJob(c.Context, o, c.App.Writer)
		},
	}
}

// envValues collects --env NAME=VALUE as given. A StringSliceFlag would
// split each value at its commas (urfave/cli's slice separator), and an
// environment value may hold commas.
type envValues []string

// Set appends one --env value.
func (e *envValues) Set(v string) error { *e = append(*e, v); return nil }

// String lists the values, for the help's default.
func (e *envValues) String() string { return strings.Join(*e, " ") }

// runK8sJob builds the manifests and writes them to o.Output (out for
// "-"). Missing flags are a *usageError and a recipe or target the build
// refuses a recipe error (both exit 2); it returns write errors naming the
// file.
func runK8sJob(_ context.Context, o k8sJobOptions, out io.Writer) error {
	switch {
	case o.Target == "":
		return &usageError{"k8s-job needs --target TARGET: the Job runs on a node of that architecture"}
	case o.Image == "":
		return &usageError{"k8s-job needs --image IMAGE (or $BOOTSTRAP_IMAGE): an image with bootstrap and the recipe's host tools for the target (docs/k8s.md shows one)"}
	case o.BackoffLimit < 0:
		return &usageError{fmt.Sprintf("--backoff-limit must be 0 or more (got %d)", o.BackoffLimit)}
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsAny(k, " \t") {
			return &usageError{fmt.Sprintf("--env %q: write NAME=VALUE", kv)}
		}
	}
	m, err := k8sjob.Build(o.Options)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("written by bootstrap %s: k8s-job %s --target %s\n"+
		"kubectl apply -f THIS-FILE, then: kubectl logs -f job/%s",
		provenance.ReadVersion().Module, o.Recipe, m.Job.Labels[k8sjob.LabelTarget], m.Job.Name)
	if o.Output == "-" {
		return m.WriteYAML(out, header)
	}
	return writeFileAtomic(o.Output, func(w io.Writer) error { return m.WriteYAML(w, header) })
}

// writeFileAtomic writes a file through a temporary one beside it, so
// that an interrupted write leaves the old file or none, never half a
// manifest for kubectl to apply. Errors name the file.
func writeFileAtomic(name string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
