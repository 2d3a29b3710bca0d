package report

import (
	"strings"
	"testing"
	"time"
)

// TestWriteMarkdown: the side-by-side table as Markdown has one row per
// step of the main run plus a total, the other runs' times by step ID (a
// step they lack is "-"), and CPU ratios; a "|" in a label is escaped.
func TestWriteMarkdown(t *testing.T) {
	s := func(id string, wall, cpu time.Duration) Step { return Step{ID: id, Wall: wall, CPU: cpu} }
	p := &Page{
		Main:    &Run{Name: "ppc64le (emulated)", Steps: []Step{s("go:make", 90*time.Minute, 86*time.Minute), s("go:fetch", 0, 0), s("smoke:run", 2*time.Second, time.Second)}},
		Against: []*Run{{Name: "amd64 | native", Steps: []Step{s("go:make", 11*time.Minute, 11*time.Minute)}}},
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, p); err != nil {
		t.Fatal(err)
	}
	want := `| step | ppc64le (emulated) wall | CPU | amd64 \| native wall | CPU | CPU ratio |
| --- | --: | --: | --: | --: | --: |
| go:make | 1h30m0s | 1h26m0s | 11m0s | 11m0s | ×7.8 |
| go:fetch | - | - | - | - |  |
| smoke:run | 2s | 1s | - | - |  |
| **total** | 1h30m2s | 1h26m1s | 11m0s | 11m0s | ×7.8 |
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
