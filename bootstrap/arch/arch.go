// Package arch maps architecture names between naming schemes (uname -m,
// GOARCH, Debian, GNU triplets, OCI platforms) and detects the host.
//
// TEMPORARY STUB: replaced by the full table and detection (issue 5).
package arch

import (
	"fmt"
	"runtime"
)

// Target is one architecture in every naming scheme.
type Target struct {
	// Name is the canonical name used in recipes (GOARCH, or armhf/armel).
	Name     string
	GOARCH   string
	GOARM    string
	GO386    string
	GOPPC64  string
	UnameM   []string
	DebArch  string
	Triplet  string
	Platform string
	FirstGo  string
}

var table = []Target{
	{Name: "amd64", GOARCH: "amd64", UnameM: []string{"x86_64"}, DebArch: "amd64", Triplet: "x86_64-linux-gnu", Platform: "linux/amd64", FirstGo: "go1"},
}

// Lookup finds a target by any of its names.
func Lookup(name string) (Target, bool) {
	for _, t := range table {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

// Vars returns the values behind ${{ target.* }}.
func (t Target) Vars() map[string]string {
	return map[string]string{"name": t.Name, "goarch": t.GOARCH, "goarm": t.GOARM, "go386": t.GO386, "goppc64": t.GOPPC64, "debarch": t.DebArch, "triplet": t.Triplet, "platform": t.Platform}
}

// Host is the detected build machine.
type Host struct {
	Target Target
}

// Vars returns the values behind ${{ host.* }}.
func (h Host) Vars() map[string]string { return h.Target.Vars() }

// CanBuild reports whether the host can build target t natively.
func (h Host) CanBuild(t Target) error {
	if t.Name != h.Target.Name {
		return fmt.Errorf("this host is %s; it cannot build %s natively", h.Target.Name, t.Name)
	}
	return nil
}

// DetectHost detects the machine this process runs on.
func DetectHost() (Host, error) {
	t, ok := Lookup(runtime.GOARCH)
	if !ok {
		return Host{}, fmt.Errorf("unknown host architecture %s", runtime.GOARCH)
	}
	return Host{Target: t}, nil
}
