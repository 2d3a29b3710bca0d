package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/plan"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check recipes without running anything; problems are printed as file:line:col",
		ArgsUsage: "RECIPE...",
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, -1, "RECIPE...")
			if err != nil {
				return err
			}
			return runValidate(c.Context, c.App.Writer, c.App.ErrWriter, a)
		},
	}
}

// runValidate loads each recipe and compiles it for every target it lists,
// printing "ok" or every problem. It returns a recipe.ErrorList of all
// problems (exit 2) when any recipe is invalid.
func runValidate(_ context.Context, out, errOut io.Writer, paths []string) error {
	var all recipe.ErrorList
	for _, path := range paths {
		errs := validateOne(path)
		if len(errs) == 0 {
			fmt.Fprintf(out, "%s: ok\n", path)
			continue
		}
		for _, e := range errs {
			fmt.Fprintln(errOut, e)
		}
		all = append(all, errs...)
	}
	if len(all) > 0 {
		return &invalidError{n: all.Count()}
	}
	return nil
}

// invalidError says how many problems validate printed (exit 2).
type invalidError struct{ n int }

func (e *invalidError) Error() string { return fmt.Sprintf("%d problem(s) found", e.n) }

func validateOne(path string) recipe.ErrorList {
	r, err := recipe.Load(path)
	if err != nil {
		return asList(path, err)
	}
	// Compile for every target the recipe lists: target.* values differ.
	targets := []string{""}
	if len(r.Targets) > 0 {
		targets = nil
		for _, t := range r.Targets {
			targets = append(targets, t.Value)
		}
	}
	host, _ := arch.DetectHost()
	seen := map[string]bool{}
	var errs recipe.ErrorList
	for _, t := range targets {
		_, err := plan.Compile(r, plan.Options{WorkDir: "/work", Target: t, Host: host, Jobs: 1,
			SkipContentHashes: true, Getenv: func(string) (string, bool) { return "", true }})
		for _, e := range asList(path, err) {
			if !seen[e.Error()] {
				seen[e.Error()] = true
				errs = append(errs, e)
			}
		}
	}
	return errs
}

func asList(path string, err error) recipe.ErrorList {
	var list recipe.ErrorList
	var one *recipe.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &list):
		return list
	case errors.As(err, &one):
		return recipe.ErrorList{one}
	}
	return recipe.ErrorList{{Pos: recipe.Pos{File: path}, Msg: err.Error()}}
}
