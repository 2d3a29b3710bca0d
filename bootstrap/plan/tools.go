package plan

import "strings"

// Which tools a run step "requires", and so whose identity is part of its
// signature:
//
//   - the component's `tools:` list (gcc, make: what its steps build
//     with), and
//   - the tool of each of its `requires:` entries (a version check already
//     says the component depends on that program),
//
// on every run step of the component, under the key "tool <name as
// written>". Recipe-wide `host.tools` are not among them: they are a
// doctor check of the whole recipe, and counting them in every step would
// rerun the whole chain when any one of them changed, not exactly what
// uses it. A component that uses a tool without naming it is not rerun
// when the tool changes; that is the price of naming tools explicitly,
// and doctor still checks host.tools.
//
// Every run step of the component gets the inputs, not only the first:
// the later steps would rerun anyway (they come after it), but then
// explain names the tool on each of them instead of "upstream changed".
//
// The value comes from Options.ToolIdentity, resolved with the step's own
// PATH (its complete environment, recipe's, component's and step's env
// over the base). Tools the chain builds (inside the work dir) add no
// input: the component that built them is already in the step's
// signature through `needs`.

// toolKey is one tool lookup: the tool as written and the PATH it is
// looked up on.
type toolKey struct{ tool, path string }

// toolValue is a remembered ToolIdentity answer.
type toolValue struct {
	value  string
	counts bool
}

// tools returns the component's tools, expanded, in recipe order: its
// tools: list, then each requires: tool not already named.
func (x *scope) tools() []string {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, t := range x.comp.Tools {
		add(strings.TrimSpace(x.plain(t)))
	}
	for _, q := range x.comp.Requires {
		add(x.plain(q.Tool))
	}
	return out
}

// addToolInputs adds "tool <name>" inputs for s.Tools, resolved with s's
// environment, when the compile has a ToolIdentity.
func (c *compiler) addToolInputs(s *Step) {
	if c.opts.ToolIdentity == nil {
		return
	}
	path := ""
	for _, kv := range s.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	// The step names paths as it sees them (below Root); the identity
	// is looked up where they are (runner/toolid skips the work dir).
	var env []string
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		var parts []string
		for _, e := range strings.Split(v, ":") {
			parts = append(parts, c.realEntry(e))
		}
		env = append(env, k+"="+strings.Join(parts, ":"))
	}
	for _, t := range s.Tools {
		k := toolKey{t, path}
		v, ok := c.toolIDs[k]
		if !ok {
			v.value, v.counts = c.opts.ToolIdentity(c.realEntry(t), env)
			c.toolIDs[k] = v
		}
		if v.counts {
			s.Inputs[ToolInputPrefix+t] = v.value
		}
	}
}

// ToolInputPrefix starts the signature input key of a tool a step uses:
// "tool gcc".
const ToolInputPrefix = "tool "

// realEntry maps one absolute path of a step's (a PATH entry, a tool)
// to the real work dir; anything else is returned as it is.
func (c *compiler) realEntry(p string) string {
	if !strings.HasPrefix(p, "/") {
		return p
	}
	return c.real(p)
}
