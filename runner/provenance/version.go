package provenance

import (
	"fmt"
	"runtime/debug"
)

// Version is the running bootstrap binary's identity, from the build
// information the Go linker embeds.
type Version struct {
	// Module is bootstrap's module version: a tag, a pseudo-version, or
	// "(devel)" for a build from a work tree.
	Module string
	// Revision, Time and Modified are the VCS commit the binary was built
	// from, its time, and whether the work tree had changes ("" when the
	// binary was built without VCS stamping, e.g. -buildvcs=false).
	Revision string
	Time     string
	Modified bool
	// Go is the Go version that built the binary.
	Go string
}

// ReadVersion reads the running binary's version.
func ReadVersion() Version {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Version{Module: "unknown"}
	}
	v := Version{Module: bi.Main.Version, Go: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the line `bootstrap --version` prints.
func (v Version) String() string {
	rev := v.Revision
	switch {
	case rev == "":
		rev = "no VCS revision recorded (built with -buildvcs=false?)"
	case v.Modified:
		rev += " (modified work tree)"
	}
	s := fmt.Sprintf("bootstrap %s, revision %s", v.Module, rev)
	if v.Time != "" {
		s += ", " + v.Time
	}
	return s + ", " + v.Go
}

// builderVersion is the map SLSA's builder.version holds.
func (v Version) builderVersion() map[string]string {
	m := map[string]string{"github.com/porterkit/bootstrap": v.Module, "go": v.Go}
	if v.Revision != "" {
		m["vcs.revision"] = v.Revision
		m["vcs.modified"] = fmt.Sprint(v.Modified)
	}
	if v.Time != "" {
		m["vcs.time"] = v.Time
	}
	return m
}
