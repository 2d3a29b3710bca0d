package runner

import "time"

// PlanReport is where every step of a plan stands, in the shape `bootstrap
// plan --json` prints (a documented contract: keep it compatible).
type PlanReport struct {
	WorkDir string       `json:"work_dir"`
	Steps   []StepReport `json:"steps"`
}

// StepReport is one step of a PlanReport.
type StepReport struct {
	ID          string         `json:"id"`
	Component   string         `json:"component"`
	Kind        string         `json:"kind"`
	Signature   string         `json:"signature"`
	State       string         `json:"state"`
	Reasons     []string       `json:"reasons"`
	LastSeconds *float64       `json:"last_seconds"`
	CPUSeconds  *float64       `json:"cpu_seconds"`
	Attempt     *AttemptReport `json:"attempt,omitempty"`
}

// AttemptReport is the last attempt at a step that has no checkpoint.
type AttemptReport struct {
	Outcome string    `json:"outcome"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Log     string    `json:"log"`
	Exit    int       `json:"exit"`
	Error   string    `json:"error,omitempty"`
	Signal  string    `json:"signal,omitempty"`
	Detail  string    `json:"detail"`
}

// Report is the PlanReport of the statuses of a plan's steps (Statuses)
// in the work dir workDir.
func Report(workDir string, sts []*Status) PlanReport {
	doc := PlanReport{WorkDir: workDir, Steps: make([]StepReport, 0, len(sts))}
	for _, st := range sts {
		s := StepReport{ID: st.Step.ID, Component: st.Step.Component, Kind: string(st.Step.Kind), Signature: st.Step.Signature,
			State: string(st.State), Reasons: []string{}}
		if st.State != Done {
			s.Reasons = append(s.Reasons, st.Reasons...)
		}
		if cp := st.Checkpoint; cp != nil {
			last := cp.Seconds
			s.LastSeconds = &last
			if cp.CPUSeconds > 0 {
				cpu := cp.CPUSeconds
				s.CPUSeconds = &cpu
			}
		}
		if a := st.Attempt; a != nil {
			s.Attempt = &AttemptReport{Outcome: string(a.Outcome), PID: a.PID, Started: a.Started, Ended: a.Ended,
				Log: a.Log, Exit: a.Exit, Error: a.Error, Signal: a.Signal, Detail: st.Detail()}
		}
		doc.Steps = append(doc.Steps, s)
	}
	return doc
}
