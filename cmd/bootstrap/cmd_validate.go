package main

import (
	"context"
	"encoding/json"
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
		Description: "Each recipe is loaded and compiled for every target it lists. Exit 2 when any\n" +
			"problem is found.\n\n" +
			"--json prints one object instead (problems and all, still exit 2 when any):\n" +
			"  {\"ok\": false, \"problems\": 1, \"recipes\": [\n" +
			"    {\"file\": \"recipes/a.yaml\", \"ok\": true, \"problems\": []},\n" +
			"    {\"file\": \"recipes/b.yaml\", \"ok\": false, \"problems\": [\n" +
			"      {\"file\": \"recipes/b.yaml\", \"line\": 7, \"col\": 9, \"component\": \"go\",\n" +
			"       \"step\": \"make\", \"message\": \"unknown key \\\"rn\\\"\"}]}]}\n" +
			"line and col are 0 when a problem has no place in the file (a missing recipe);\n" +
			"component and step are \"\" outside one.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the result as JSON (shape above)"}},
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, -1, "RECIPE...")
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return runValidateJSON(c.Context, c.App.Writer, a)
			}
			return runValidate(c.Context, c.App.Writer, c.App.ErrWriter, a)
		},
	}
}

// validateReport is what `validate --json` prints: the shape is documented
// in the command's help and is a contract.
type validateReport struct {
	OK       bool             `json:"ok"`
	Problems int              `json:"problems"`
	Recipes  []validateRecipe `json:"recipes"`
}

// validateRecipe is one recipe's result in a validateReport.
type validateRecipe struct {
	File     string            `json:"file"`
	OK       bool              `json:"ok"`
	Problems []validateProblem `json:"problems"`
}

// validateProblem is one recipe.Error in a validateReport.
type validateProblem struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Col       int    `json:"col"`
	Component string `json:"component"`
	Step      string `json:"step"`
	Message   string `json:"message"`
}

// runValidateJSON is runValidate printing a validateReport on out. It
// returns an *invalidError (exit 2) when any recipe has problems.
func runValidateJSON(_ context.Context, out io.Writer, paths []string) error {
	rep := validateReport{OK: true, Recipes: []validateRecipe{}}
	for _, path := range paths {
		vr := validateRecipe{File: path, OK: true, Problems: []validateProblem{}}
		for _, e := range validateOne(path) {
			vr.OK, rep.OK = false, false
			vr.Problems = append(vr.Problems, validateProblem{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col,
				Component: e.Component, Step: e.Step, Message: e.Msg})
		}
		rep.Problems += len(vr.Problems)
		rep.Recipes = append(rep.Recipes, vr)
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	if !rep.OK {
		return &invalidError{n: rep.Problems}
	}
	return nil
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
