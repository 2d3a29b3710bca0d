package provenance

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/porterkit/bootstrap/runner/verify"
)

// WriteSummary writes the statement as tables a porter can read (what
// `bootstrap record` prints): the run, what was built, from what, and how
// each step ended.
func (st *Statement) WriteSummary(out io.Writer) {
	bd, rd := st.Predicate.BuildDefinition, st.Predicate.RunDetails
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	if rec, ok := bd.ExternalParameters["recipe"].(map[string]any); ok {
		fmt.Fprintf(tw, "recipe\t%v (sha256 %v)\n", rec["path"], rec["sha256"])
	}
	fmt.Fprintf(tw, "target\t%v\n", bd.ExternalParameters["target"])
	v := rd.Builder.Version
	fmt.Fprintf(tw, "builder\tbootstrap %s, revision %s, %s\n", v["github.com/porterkit/bootstrap"], orNone(v["vcs.revision"]), v["go"])
	fmt.Fprintf(tw, "run\t%s → %s (%s)\n", rd.Metadata.StartedOn.Format("2006-01-02 15:04:05Z"),
		rd.Metadata.FinishedOn.Format("15:04:05Z"), rd.Metadata.FinishedOn.Sub(rd.Metadata.StartedOn).Round(1e9))
	tw.Flush()

	fmt.Fprintf(out, "\nbuilt (%d):\n", len(st.Subject))
	tw = tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	for _, s := range st.Subject {
		note := ""
		if r, ok := s.Annotations["reference"]; ok {
			note = fmt.Sprintf("%v to %v", s.Annotations["verified"], r)
			if s.Annotations["against"] == verify.AgainstIndependent {
				note = fmt.Sprintf("%v to %v", s.Annotations["verified"], s.Annotations["verifiedAgainst"])
			}
		}
		if m, ok := s.Annotations["mismatch"]; ok {
			note = fmt.Sprintf("CHANGED since its step: %v", m)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, digest(s.Digest), note)
	}
	tw.Flush()

	fmt.Fprintf(out, "\nfrom (%d):\n", len(bd.ResolvedDependencies))
	tw = tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	for _, d := range bd.ResolvedDependencies {
		ver := ""
		if s, ok := d.Annotations["version"].(string); ok {
			ver = s
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.Name, d.URI, digest(d.Digest), ver)
	}
	tw.Flush()

	fmt.Fprintf(out, "\nsteps (%d):\n", len(rd.Byproducts))
	tw = tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	for _, b := range rd.Byproducts {
		a := b.Annotations
		dur := ""
		if s, ok := a["durationSeconds"].(float64); ok {
			dur = fmt.Sprintf("%.1fs", s)
		}
		exit := "exit " + orNone(fmt.Sprint(a["exitStatus"]))
		if sig, ok := a["signal"].(string); ok {
			exit = "by " + sig // an interrupted step has no exit status
		}
		fmt.Fprintf(tw, "  %s\t%v\t%s\t%s\t%s\n", b.Name, a["status"], dur, exit, verification(a["verification"]))
	}
	tw.Flush()
}

// verification summarises a step's verification annotation in a few words.
func verification(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		against := ""
		if x["against"] == verify.AgainstIndependent {
			against = fmt.Sprintf(" (against %v's independent build)", x["component"])
		}
		if x["identical"] == true {
			return "bit-identical" + against
		}
		if d, ok := x["differences"].([]any); ok {
			return fmt.Sprintf("NOT bit-identical: %d file(s) differ%s", len(d), against)
		}
		return "NOT bit-identical" + against
	}
	return fmt.Sprint(v)
}

func digest(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		v := d[k]
		if len(v) > 20 {
			v = v[:20] + "…"
		}
		out = append(out, k+":"+v)
	}
	return strings.Join(out, " ")
}

func orNone(s string) string {
	if s == "" || s == "<nil>" {
		return "-"
	}
	return s
}

// WriteSummary writes who signed the record (the key IDs its envelope
// names, not checked: `record --verify` checks) and then the statement's
// tables.
func (f *File) WriteSummary(out io.Writer) {
	if f.Envelope == nil {
		fmt.Fprintln(out, "signature  none (a plain statement from a bootstrap that did not sign)")
	} else {
		var ids []string
		for _, s := range f.Envelope.Signatures {
			ids = append(ids, s.KeyID[:min(16, len(s.KeyID))])
		}
		fmt.Fprintf(out, "signature  DSSE, ed25519 key %s (not checked here: record --verify checks it)\n", strings.Join(ids, ", "))
	}
	f.Statement.WriteSummary(out)
}
