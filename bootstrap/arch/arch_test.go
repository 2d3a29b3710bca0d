package arch

import (
	"strings"
	"testing"
)

// want is written out independently of table.go, so a typo in either
// shows up as a difference.
var want = []struct {
	name, goarch, goarm, go386, goppc64, uname, deb, triplet, platform, firstGo string
	bits                                                                        int
}{
	{"amd64", "amd64", "", "", "", "x86_64", "amd64", "x86_64-linux-gnu", "linux/amd64", "go1", 64},
	{"386", "386", "", "softfloat", "", "i686", "i386", "i386-linux-gnu", "linux/386", "go1", 32},
	{"arm64", "arm64", "", "", "", "aarch64", "arm64", "aarch64-linux-gnu", "linux/arm64", "go1.5", 64},
	{"armhf", "arm", "7", "", "", "armv7l", "armhf", "arm-linux-gnueabihf", "linux/arm/v7", "go1", 32},
	{"armel", "arm", "5", "", "", "armv5tel", "armel", "arm-linux-gnueabi", "linux/arm/v5", "go1", 32},
	{"ppc64le", "ppc64le", "", "", "power8", "ppc64le", "ppc64el", "powerpc64le-linux-gnu", "linux/ppc64le", "go1.5", 64},
	{"s390x", "s390x", "", "", "", "s390x", "s390x", "s390x-linux-gnu", "linux/s390x", "go1.7", 64},
	{"riscv64", "riscv64", "", "", "", "riscv64", "riscv64", "riscv64-linux-gnu", "linux/riscv64", "go1.14", 64},
}

func TestTableRows(t *testing.T) {
	if got := len(Targets()); got != len(want) {
		t.Errorf("table has %d rows, test knows %d", got, len(want))
	}
	for _, w := range want {
		t.Run(w.name, func(t *testing.T) {
			tg, ok := Lookup(w.name)
			if !ok {
				t.Fatalf("Lookup(%q) failed", w.name)
			}
			got := []string{tg.Name, tg.GOARCH, tg.GOARM, tg.GO386, tg.GOPPC64, tg.UnameM[0], tg.DebArch, tg.Triplet, tg.Platform, tg.FirstGo}
			exp := []string{w.name, w.goarch, w.goarm, w.go386, w.goppc64, w.uname, w.deb, w.triplet, w.platform, w.firstGo}
			for i := range got {
				if got[i] != exp[i] {
					t.Errorf("field %d = %q, want %q", i, got[i], exp[i])
				}
			}
			if tg.Bits != w.bits {
				t.Errorf("Bits = %d, want %d", tg.Bits, w.bits)
			}
			if tg.QEMU == "" || tg.ELFMachine == 0 {
				t.Errorf("QEMU %q / ELFMachine %v unset", tg.QEMU, tg.ELFMachine)
			}
			// Every name in every scheme finds this row.
			names := append([]string{tg.GOARCH, tg.DebArch, tg.Triplet, tg.Platform, strings.ToUpper(tg.Name)}, tg.UnameM...)
			if tg.Name == "armel" {
				names = names[1:] // GOARCH "arm" means armhf
			}
			for _, n := range names {
				if got, ok := Lookup(n); !ok || got.Name != tg.Name {
					t.Errorf("Lookup(%q) = %q, %v; want %q", n, got.Name, ok, tg.Name)
				}
			}
			p, err := ParsePlatform(tg.Platform)
			if err != nil || p.String() != tg.Platform {
				t.Errorf("ParsePlatform(%q) = %v, %v", tg.Platform, p, err)
			}
			v := tg.Vars()
			if v["goarch"] != w.goarch || v["triplet"] != w.triplet || v["platform"] != w.platform || v["debarch"] != w.deb {
				t.Errorf("Vars() = %v", v)
			}
		})
	}
}

func TestLookupAliases(t *testing.T) {
	for in, name := range map[string]string{
		"arm":             "armhf",
		"armv8l":          "armhf",
		"linux/arm":       "armhf",
		"arm/v7":          "armhf",
		"linux/arm/7":     "armhf",
		"linux/arm/v5":    "armel",
		"armv6l":          "armel",
		"linux/arm64/v8":  "arm64",
		"arm64/v8":        "arm64",
		"aarch64":         "arm64",
		"x86-64":          "amd64",
		"linux/amd64/v1":  "amd64",
		"i686-linux-gnu":  "386",
		"i386":            "386",
		"ppc64el":         "ppc64le",
		" PPC64LE ":       "ppc64le",
		"linux/ppc64el":   "ppc64le",
		"riscv64":         "riscv64",
		"s390x-linux-gnu": "s390x",
		"linux/x86_64":    "amd64",
	} {
		got, ok := Lookup(in)
		if !ok || got.Name != name {
			t.Errorf("Lookup(%q) = %q, %v; want %q", in, got.Name, ok, name)
		}
	}
	for _, in := range []string{"", "linux/arm/v6", "windows/amd64", "mips", "sparc64", "linux//arm", "a/b/c/d"} {
		if got, ok := Lookup(in); ok {
			t.Errorf("Lookup(%q) = %q; want no match", in, got.Name)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for in, out := range map[string]string{
		"linux/arm64/v8": "linux/arm64",
		"arm":            "linux/arm/v7",
		"armhf":          "linux/arm/v7",
		"armel":          "linux/arm/v5",
		"LINUX/AMD64":    "linux/amd64",
		"windows/amd64":  "windows/amd64",
		"arm/v6":         "linux/arm/v6",
		"x86_64":         "linux/amd64",
	} {
		p, err := ParsePlatform(in)
		if err != nil || p.String() != out {
			t.Errorf("ParsePlatform(%q) = %q, %v; want %q", in, p, err, out)
		}
	}
	for _, in := range []string{"", "/", "linux/", "a/b/c/d"} {
		if _, err := ParsePlatform(in); err == nil {
			t.Errorf("ParsePlatform(%q) succeeded", in)
		}
	}
}

func TestSupportedBy(t *testing.T) {
	rv, _ := Lookup("riscv64")
	if err := rv.SupportedBy("go1.13.15"); err == nil || !strings.Contains(err.Error(), "go1.14") {
		t.Errorf("riscv64 on go1.13: %v", err)
	}
	if err := rv.SupportedBy("1.19.8"); err != nil {
		t.Error(err)
	}
	a, _ := Lookup("arm64")
	if err := a.SupportedBy("go1.4"); err == nil {
		t.Error("arm64 with go1.4 accepted")
	}
	if err := a.SupportedBy("nonsense"); err == nil {
		t.Error("bad version accepted")
	}
}
