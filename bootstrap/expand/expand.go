// Package expand substitutes ${{ name }} references in recipe values.
//
// In plain values (paths, env values, URLs) a reference is replaced by its
// value as is. In shell scripts it is inserted quoted for the place it stands
// in: outside quotes it becomes one shell word, inside '…' or "…" it is
// escaped for that kind of quote. So a path with a space works and no value
// can inject a command, whether or not the recipe author quoted it.
package expand

import (
	"fmt"
	"regexp"
	"strings"
)

// Ref is one ${{ name }} reference inside a value.
type Ref struct {
	// Name is the trimmed name between the braces.
	Name string
	// Start and End are byte offsets of the whole ${{ … }} in the value.
	Start, End int
}

// SyntaxError is a malformed reference, at byte offset Off of the value.
type SyntaxError struct {
	Off int
	Msg string
}

func (e *SyntaxError) Error() string { return e.Msg }

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// Refs finds every reference in s, in order.
func Refs(s string) ([]Ref, error) {
	var refs []Ref
	for off := 0; ; {
		i := strings.Index(s[off:], "${{")
		if i < 0 {
			return refs, nil
		}
		start := off + i
		j := strings.Index(s[start:], "}}")
		if j < 0 {
			return nil, &SyntaxError{Off: start, Msg: "unclosed ${{: add the closing }}"}
		}
		end := start + j + 2
		name := strings.TrimSpace(s[start+3 : end-2])
		if !nameRE.MatchString(name) {
			return nil, &SyntaxError{Off: start, Msg: fmt.Sprintf("bad reference %q: expected ${{ name }}", s[start:end])}
		}
		refs = append(refs, Ref{Name: name, Start: start, End: end})
		off = end
	}
}

// Lookup returns the value of a name, or an error saying why it has none.
type Lookup func(name string) (string, error)

// RefError is a failed lookup of the reference at byte offset Off.
type RefError struct {
	Off int
	Err error
}

func (e *RefError) Error() string { return e.Err.Error() }
func (e *RefError) Unwrap() error { return e.Err }

// Plain expands s, inserting values unchanged.
func Plain(s string, lookup Lookup) (string, error) {
	return expand(s, lookup, func(v string, _ quoteState) string { return v })
}

// Shell expands a shell script, inserting each value quoted for the quoting
// context it appears in. Here-documents are not tracked: a reference inside
// one is quoted as if it stood outside any quotes.
func Shell(s string, lookup Lookup) (string, error) {
	return expand(s, lookup, quoteFor)
}

func expand(s string, lookup Lookup, insert func(string, quoteState) string) (string, error) {
	refs, err := Refs(s)
	if err != nil {
		return "", err
	}
	if len(refs) == 0 {
		return s, nil
	}
	states := quoteStates(s, refs)
	var b strings.Builder
	last := 0
	for i, r := range refs {
		v, err := lookup(r.Name)
		if err != nil {
			return "", &RefError{Off: r.Start, Err: err}
		}
		b.WriteString(s[last:r.Start])
		b.WriteString(insert(v, states[i]))
		last = r.End
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

type quoteState int

const (
	unquoted quoteState = iota
	inSingle
	inDouble
)

// quoteStates scans the script like a POSIX shell lexer, just enough to know
// whether each reference stands outside quotes, inside '…' or inside "…".
func quoteStates(s string, refs []Ref) []quoteState {
	out := make([]quoteState, len(refs))
	state, ri := unquoted, 0
	for i := 0; i < len(s) && ri < len(refs); i++ {
		if i == refs[ri].Start {
			out[ri] = state
			i = refs[ri].End - 1
			ri++
			continue
		}
		switch c := s[i]; state {
		case unquoted:
			switch c {
			case '\\':
				i++
			case '\'':
				state = inSingle
			case '"':
				state = inDouble
			}
		case inSingle:
			if c == '\'' {
				state = unquoted
			}
		case inDouble:
			switch c {
			case '\\':
				i++
			case '"':
				state = unquoted
			}
		}
	}
	return out
}

func quoteFor(v string, st quoteState) string {
	switch st {
	case inSingle:
		return strings.ReplaceAll(v, "'", `'\''`)
	case inDouble:
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
		return r.Replace(v)
	}
	return Quote(v)
}

var safeWordRE = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// Quote returns v as a single shell word: unchanged when it holds only safe
// characters (so logs stay readable), otherwise in single quotes.
func Quote(v string) string {
	if safeWordRE.MatchString(v) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
