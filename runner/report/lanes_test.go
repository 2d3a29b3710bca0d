package report

import (
	"testing"
	"time"
)

// TestAssignLanes checks that steps overlapping in time get different
// lanes and that a lane is reused once its step ended.
func TestAssignLanes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name  string
		spans [][2]int // start, end in seconds; {-1, -1}: did not run
		lanes []int
		n     int
	}{
		{"one after another", [][2]int{{0, 5}, {5, 9}, {9, 10}}, []int{0, 0, 0}, 1},
		{"two at once", [][2]int{{0, 5}, {1, 3}, {3, 8}, {6, 7}}, []int{0, 1, 1, 0}, 2},
		{"three at once, out of order", [][2]int{{2, 9}, {0, 10}, {1, 4}}, []int{2, 0, 1}, 3},
		{"a step that did not run takes no lane", [][2]int{{0, 5}, {-1, -1}, {1, 2}}, []int{0, 0, 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var steps []Step
			for _, sp := range tc.spans {
				s := Step{Ran: sp[0] >= 0}
				if s.Ran {
					s.Start, s.End = at(sp[0]), at(sp[1])
				}
				steps = append(steps, s)
			}
			if n := assignLanes(steps); n != tc.n {
				t.Errorf("%d lanes, want %d", n, tc.n)
			}
			for i, s := range steps {
				if s.Lane != tc.lanes[i] {
					t.Errorf("step %d in lane %d, want %d", i, s.Lane, tc.lanes[i])
				}
			}
		})
	}
}
