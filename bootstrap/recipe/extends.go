package recipe

import (
	"os"
	"path/filepath"
	"strings"
)

// base loads the recipe r extends, relative to r's file. Problems in the
// base are reported at their place in the base's file; a missing file or a
// cycle at the extends: line.
func (d *decoder) base(r *Recipe, chain []string) (*Recipe, bool) {
	self, _ := filepath.Abs(d.file)
	path := r.Extends.Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(d.file), path)
	}
	abs, _ := filepath.Abs(path)
	for _, c := range append(chain, self) {
		if c == abs {
			d.errs.errorf(r.Extends.Pos, "", "", "extends %s makes a cycle: %s", r.Extends.Value, strings.Join(append(append(chain, self), abs), " → "))
			return nil, false
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		d.errs.errorf(r.Extends.Pos, "", "", "cannot read the base recipe: %v", err)
		return nil, false
	}
	base, errs, ok := parse(path, data, append(chain, self))
	for _, e := range errs {
		d.errs.Add(e)
	}
	return base, ok
}

// merge lays recipe r over its base and returns the result, which belongs
// to r's file (its name, work dir and position). The rules, chosen so that
// a derived recipe states only what differs:
//   - name, description, targets and each host scalar (disk, memory,
//     suite): r's when it gives one, else the base's;
//   - vars and env: by name; r's value replaces the base's in place, new
//     names follow the base's;
//   - host lists (tools, packages, kernel, binfmt): the base's, then r's;
//   - components: by name; r's component replaces the base's whole, in the
//     base's place, new ones follow.
//
// Relative paths keep meaning what they meant in the file that wrote them
// (see Recipe.DirOf).
func merge(base, r *Recipe) *Recipe {
	out := *r
	out.Files = append(append([]string(nil), r.Files...), base.Files...)
	out.Name = orStr(r.Name, base.Name)
	out.Description = orStr(r.Description, base.Description)
	if len(r.Targets) == 0 {
		out.Targets = base.Targets
	}
	out.Vars = mergeVars(base.Vars, r.Vars)
	out.Env = mergeVars(base.Env, r.Env)
	h := base.Host
	if r.Host.Pos.Line != 0 {
		h.Pos = r.Host.Pos
	}
	h.Tools = append(append([]Tool(nil), base.Host.Tools...), r.Host.Tools...)
	h.Packages = append(append([]Str(nil), base.Host.Packages...), r.Host.Packages...)
	h.Kernel = append(append([]Str(nil), base.Host.Kernel...), r.Host.Kernel...)
	h.Binfmt = append(append([]Str(nil), base.Host.Binfmt...), r.Host.Binfmt...)
	h.Disk = orStr(r.Host.Disk, base.Host.Disk)
	h.Memory = orStr(r.Host.Memory, base.Host.Memory)
	h.Suite = orStr(r.Host.Suite, base.Host.Suite)
	out.Host = h
	byName := map[string]*Component{}
	for _, c := range r.Components {
		byName[c.Name.Value] = c
	}
	var comps []*Component
	for _, c := range base.Components {
		if own := byName[c.Name.Value]; own != nil {
			comps = append(comps, own)
			delete(byName, c.Name.Value)
			continue
		}
		comps = append(comps, c)
	}
	for _, c := range r.Components {
		if byName[c.Name.Value] != nil {
			comps = append(comps, c)
		}
	}
	out.Components = comps
	return &out
}

func orStr(s, def Str) Str {
	if s.Value != "" {
		return s
	}
	return def
}

func mergeVars(base, over []Var) []Var {
	out := append([]Var(nil), base...)
	for _, v := range over {
		replaced := false
		for i := range out {
			if out[i].Name.Value == v.Name.Value {
				out[i] = v
				replaced = true
			}
		}
		if !replaced {
			out = append(out, v)
		}
	}
	return out
}

// DirOf is the directory a relative path written in s is resolved
// against: the directory of the file s was written in (a base recipe's
// paths stay its own), else the recipe's.
func (r *Recipe) DirOf(s Str) string {
	if s.Pos.File != "" {
		return filepath.Dir(s.Pos.File)
	}
	return r.Dir()
}
