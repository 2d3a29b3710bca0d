package plan

import (
	"errors"

	"github.com/porterkit/bootstrap/bootstrap/arch"
	"github.com/porterkit/bootstrap/bootstrap/recipe"
)

// Validate loads the recipe at path and compiles it for every target it
// lists (target.* values differ between them), on host, without reading
// patch contents or the caller's environment. It returns every problem
// once, in order; none means the recipe is valid.
func Validate(path string, host arch.Host) recipe.ErrorList {
	r, err := recipe.Load(path)
	if err != nil {
		return asList(path, err)
	}
	targets := []string{""}
	if len(r.Targets) > 0 {
		targets = nil
		for _, t := range r.Targets {
			targets = append(targets, t.Value)
		}
	}
	seen := map[string]bool{}
	var errs recipe.ErrorList
	for _, t := range targets {
		_, err := Compile(r, Options{WorkDir: "/work", Target: t, Host: host, Jobs: 1,
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

// asList is err as a list of recipe errors; an error of another kind
// becomes one placed at the file.
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

// ValidationReport is the result of validating several recipes, in the
// shape `bootstrap validate --json` prints (a documented contract).
type ValidationReport struct {
	OK       bool               `json:"ok"`
	Problems int                `json:"problems"`
	Recipes  []RecipeValidation `json:"recipes"`
}

// RecipeValidation is one recipe's result in a ValidationReport.
type RecipeValidation struct {
	File     string    `json:"file"`
	OK       bool      `json:"ok"`
	Problems []Problem `json:"problems"`
	// Errors are the problems as the loader reported them.
	Errors recipe.ErrorList `json:"-"`
}

// Problem is one recipe.Error in a ValidationReport: line and col are 0
// when it has no place in the file, component and step "" outside one.
type Problem struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Col       int    `json:"col"`
	Component string `json:"component"`
	Step      string `json:"step"`
	Message   string `json:"message"`
}

// ValidateAll validates each recipe (see Validate) into one report.
func ValidateAll(paths []string, host arch.Host) ValidationReport {
	rep := ValidationReport{OK: true, Recipes: []RecipeValidation{}}
	for _, path := range paths {
		errs := Validate(path, host)
		rv := RecipeValidation{File: path, OK: len(errs) == 0, Problems: []Problem{}, Errors: errs}
		for _, e := range errs {
			rv.Problems = append(rv.Problems, Problem{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col,
				Component: e.Component, Step: e.Step, Message: e.Msg})
		}
		rep.OK = rep.OK && rv.OK
		rep.Problems += errs.Count()
		rep.Recipes = append(rep.Recipes, rv)
	}
	return rep
}
