package recipe

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorCap loads recipes with more problems than MaxErrors and checks
// that the list holds MaxErrors of them and one last line with the exact
// count of the rest, positioned at the first one not shown.
func TestErrorCap(t *testing.T) {
	const head = "name: big\ncomponents:\n  - name: a\n    steps:\n      - name: s\n        run: echo\n"
	unknownKeys := func(n int) string {
		var b strings.Builder
		b.WriteString(head)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "k%d: v\n", i)
		}
		return b.String()
	}
	for _, tt := range []struct {
		name     string
		text     string
		problems int
		more     string // the last line, or "" when nothing is dropped
	}{
		{"fewer than the cap", unknownKeys(MaxErrors - 1), MaxErrors - 1, ""},
		{"exactly the cap", unknownKeys(MaxErrors), MaxErrors, ""},
		{"one past the cap", unknownKeys(MaxErrors + 1), MaxErrors + 1,
			"r.yaml:57:1: … and 1 more problem (not shown; the first of them is here)"},
		// The case: 600,000 unknown keys printed 600,001 errors in
		// 25 s and 590 MB. The count stays exact.
		{"600,000 unknown keys", unknownKeys(600_000), 600_000,
			"r.yaml:57:1: … and 599950 more problems (not shown; the first of them is here)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.text))
			list, ok := err.(ErrorList)
			if !ok {
				t.Fatalf("want an ErrorList, got %T: %v", err, err)
			}
			if got := list.Count(); got != tt.problems {
				t.Errorf("Count() = %d, want %d", got, tt.problems)
			}
			wantLen := min(tt.problems, MaxErrors)
			if tt.more != "" {
				wantLen++
			}
			if len(list) != wantLen {
				t.Fatalf("the list holds %d entries, want %d", len(list), wantLen)
			}
			last := list[len(list)-1].Error()
			if tt.more != "" && last != tt.more {
				t.Errorf("last line %q\nwant %q", last, tt.more)
			}
			if tt.more == "" && strings.Contains(last, "more problem") {
				t.Errorf("a list under the cap ends with %q", last)
			}
			if lines := strings.Count(err.Error(), "\n") + 1; lines != wantLen {
				t.Errorf("the error prints %d lines, want %d", lines, wantLen)
			}
		})
	}
}

// TestErrorListAdd checks that lists joined with Add stay capped with an
// exact total, and that sorting keeps the count last.
func TestErrorListAdd(t *testing.T) {
	at := func(line int) *Error { return &Error{Pos: Pos{File: "f", Line: line, Col: 1}, Msg: "p"} }
	var a, b ErrorList
	for i := 0; i < 40; i++ {
		a.Add(at(100 + i))
		b.Add(at(200 - i))
	}
	for i := 0; i < 30; i++ {
		b.Add(at(1)) // b: 50 problems and "… and 20 more"
	}
	if got := b.Count(); got != 70 {
		t.Fatalf("b.Count() = %d, want 70", got)
	}
	for _, e := range b {
		a.Add(e)
	}
	if got, want := a.Count(), 110; got != want {
		t.Errorf("a.Count() = %d, want %d", got, want)
	}
	if len(a) != MaxErrors+1 {
		t.Errorf("a holds %d entries, want %d", len(a), MaxErrors+1)
	}
	a.Sort()
	last := a[len(a)-1]
	if last.More != 60 || !strings.HasPrefix(last.Msg, "… and 60 more problems") {
		t.Errorf("last entry after Sort: More %d, %q", last.More, last.Msg)
	}
	for i := 1; i < len(a)-1; i++ {
		if a[i].Pos.Line < a[i-1].Pos.Line {
			t.Fatalf("not sorted at %d: %v after %v", i, a[i], a[i-1])
		}
	}
}

// TestErrorCapAcrossExtends checks that problems in a base recipe and in
// the recipe that extends it share one cap and one exact count.
func TestErrorCapAcrossExtends(t *testing.T) {
	keys := func(prefix string, n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "%s%d: v\n", prefix, i)
		}
		return b.String()
	}
	dir := writeFiles(t, map[string]string{
		"b.yaml": "name: b\ncomponents:\n  - name: a\n    steps:\n      - name: s\n        run: echo\n" + keys("base", 40),
		"r.yaml": "extends: b.yaml\nname: r\n" + keys("own", 40),
	})
	_, err := Load(filepath.Join(dir, "r.yaml"))
	list, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("want an ErrorList, got %T: %v", err, err)
	}
	if list.Count() != 80 || len(list) != MaxErrors+1 || list[MaxErrors].More != 30 {
		t.Errorf("Count %d, %d entries, last More %d; want 80, %d, 30", list.Count(), len(list), list[len(list)-1].More, MaxErrors+1)
	}
}
