package arch

import (
	"fmt"
	"strings"
)

// Platform is an OCI image platform: os/arch[/variant].
//
// It is parsed here rather than with github.com/containerd/platforms: that
// module compiles in logrus, containerd/log, image-spec and go-digest (and
// a package-level cpuinfo cache) to normalise a handful of strings that this
// package's table already lists, and it maps "armel" to arm/v6, which is not
// Debian's armel.
type Platform struct {
	OS      string
	Arch    string
	Variant string
}

// String formats the platform as os/arch[/variant].
func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ParsePlatform parses "os/arch[/variant]", "arch[/variant]" (the OS
// defaults to linux, the only OS bootstrap builds for) or a bare
// architecture word in any of the usual spellings (x86_64, aarch64, armhf,
// i686…), and returns it normalised. It returns an error for an empty part,
// too many parts or an unknown OS.
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	for _, p := range parts {
		if p == "" {
			return Platform{}, fmt.Errorf("platform %q: empty component", s)
		}
	}
	var p Platform
	switch {
	case len(parts) == 1:
		p = Platform{OS: "linux", Arch: parts[0]}
	case len(parts) == 2 && knownOS(parts[0]):
		p = Platform{OS: parts[0], Arch: parts[1]}
	case len(parts) == 2:
		p = Platform{OS: "linux", Arch: parts[0], Variant: parts[1]}
	case len(parts) == 3 && knownOS(parts[0]):
		p = Platform{OS: parts[0], Arch: parts[1], Variant: parts[2]}
	default:
		return Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	return p.Normalize(), nil
}

// knownOS reports whether word is an OS in OCI platform strings, so that
// "linux/arm64" and "arm64/v8" can both be read.
func knownOS(word string) bool {
	switch word {
	case "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix":
		return true
	}
	return false
}

// Normalize rewrites the platform the way registries spell it: GOARCH
// architecture names, arm always with a variant (v7 by default, as Docker
// assumes), arm64's default v8 and amd64's v1 dropped.
func (p Platform) Normalize() Platform {
	switch p.Arch {
	case "x86_64", "x86-64", "x64":
		p.Arch = "amd64"
	case "i386", "i486", "i586", "i686", "x86":
		p.Arch = "386"
	case "aarch64":
		p.Arch = "arm64"
	case "armhf", "armv7l", "armv7", "armv8l":
		p.Arch, p.Variant = "arm", "v7"
	case "armel", "armv5tel", "armv5", "armv5te":
		p.Arch, p.Variant = "arm", "v5"
	case "armv6l", "armv6":
		p.Arch, p.Variant = "arm", "v6"
	case "ppc64el":
		p.Arch = "ppc64le"
	}
	switch p.Arch {
	case "arm":
		if p.Variant == "" {
			p.Variant = "v7"
		}
		if p.Variant == "7" || p.Variant == "6" || p.Variant == "5" || p.Variant == "8" {
			p.Variant = "v" + p.Variant
		}
	case "arm64":
		if p.Variant == "v8" || p.Variant == "8" {
			p.Variant = ""
		}
	case "amd64":
		if p.Variant == "v1" {
			p.Variant = ""
		}
	}
	return p
}
