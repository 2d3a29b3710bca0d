package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/runner"
	"github.com/porterkit/bootstrap/runner/provenance"
)

// recordOptions are the flags of `bootstrap record`.
type recordOptions struct {
	planOptions
	// JSON prints the statement as it was signed (the envelope's payload).
	JSON bool
	// Verify checks the record's signature and subjects instead of
	// printing it; Key is the public key file to check with (default:
	// bootstrap's own).
	Verify bool
	Key    string
	// PublicKey prints bootstrap's public key.
	PublicKey bool
}

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:      "record",
		Usage:     "show or verify the provenance record of the last run (<work>/provenance.json)",
		ArgsUsage: "RECIPE | --verify FILE|RECIPE [--key PUB] | --public-key",
		Description: "The record is an in-toto Statement with an SLSA provenance v1 predicate: what was built,\n" +
			"from which sources and patches, on which host, by which bootstrap, and how each step ended,\n" +
			"signed as a DSSE envelope with bootstrap's ed25519 key (made at the first run, kept in\n" +
			"$BOOTSTRAP_KEY_DIR, else $XDG_CONFIG_HOME/bootstrap/keys, else ~/.config/bootstrap/keys).\n" +
			"--verify checks the signature and that every subject still has its recorded digest on disk:\n" +
			"one FAIL line per problem and exit 1, or one ok line and exit 0.\n" +
			"--public-key prints the public key as securesystemslib's JSON (keyval.public is its hex).",
		Flags: append(workDirFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print the statement as signed (the file is its DSSE envelope)"},
			&cli.BoolFlag{Name: "verify", Usage: "check the record's signature and its subjects on disk"},
			&cli.StringFlag{Name: "key", Usage: "with --verify, the public key `FILE` to check with (JSON, PEM or hex)", DefaultText: "bootstrap's own"},
			&cli.BoolFlag{Name: "public-key", Usage: "print bootstrap's public key"},
		),
		Action: func(c *cli.Context) error {
			o := recordOptions{planOptions: planOptionsFrom(c), JSON: c.Bool("json"), Verify: c.Bool("verify"),
				Key: c.String("key"), PublicKey: c.Bool("public-key")}
			min := 1
			if o.PublicKey {
				min = 0
			}
			a, err := args(c, min, 1, "RECIPE | --verify FILE|RECIPE [--key PUB] | --public-key")
			if err != nil {
				return err
			}
			if o.Key != "" && !o.Verify {
				return &usageError{"--key goes with --verify"}
			}
			return runRecord(c.Context, o, c.App.Writer, a)
		},
	}
}

// runRecord prints the record of the recipe's work dir, as a table or as
// JSON, verifies a record, or prints the public key; a work dir without a
// record is an error saying how to get one, and a record that does not
// verify an error after its FAIL lines.
func runRecord(ctx context.Context, o recordOptions, out io.Writer, a []string) error {
	switch {
	case o.PublicKey:
		data, err := runner.PublicKeyJSON()
		if err == nil {
			_, err = out.Write(data)
		}
		return err
	case o.Verify:
		return verifyRecord(ctx, o, out, a[0])
	}
	p, err := loadPlan(a[0], o.planOptions)
	if err != nil {
		return err
	}
	if o.JSON {
		// The statement as signed, for jq; the file is its envelope.
		f, err := provenance.ReadFile(provenance.Path(p.WorkDir))
		if os.IsNotExist(err) {
			_, err = provenance.Read(p.WorkDir) // says how to get one
		}
		if err == nil {
			_, err = out.Write(f.Payload)
		}
		return err
	}
	if _, err := provenance.Read(p.WorkDir); err != nil {
		return err // says how to get one
	}
	f, err := provenance.ReadFile(provenance.Path(p.WorkDir))
	if err != nil {
		return err
	}
	f.WriteSummary(out)
	return nil
}

// verifyRecord is `record --verify`: operand is a record file, or a recipe
// whose work dir's record is meant.
func verifyRecord(ctx context.Context, o recordOptions, out io.Writer, operand string) error {
	path := operand
	if strings.HasSuffix(operand, ".yaml") || strings.HasSuffix(operand, ".yml") {
		p, err := loadPlan(operand, o.planOptions)
		if err != nil {
			return err
		}
		path = provenance.Path(p.WorkDir)
	}
	v, err := runner.VerifyRecord(ctx, path, o.Key)
	if err != nil {
		return err
	}
	for _, p := range v.Problems {
		fmt.Fprintln(out, "FAIL", p)
	}
	if !v.OK() {
		return fmt.Errorf("%s does not verify: %d problem(s)", path, len(v.Problems))
	}
	fmt.Fprintf(out, "ok %s: signed by key %s, %d subject(s) match the disk\n", path, v.KeyID[:16], v.Subjects)
	return nil
}
