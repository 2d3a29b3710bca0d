package arch

import "debug/elf"

// table is the one mapping between naming schemes. It is read-only: nothing
// writes to it after initialisation, and Targets hands out a copy.
//
// Sources of the facts: Debian's port list and multiarch tuples, Go's
// release notes (first release per port; armel/GOARM=5 and 386 since go1),
// and the OCI image-index platform conventions Docker uses (arm64's "v8"
// variant and amd64's "v1" are normalised away; 32-bit ARM always carries
// its variant).
//
// armel is ARMv5TE soft-float, GOARM=5, OCI linux/arm/v5: that is Debian's
// armel baseline and the platform of Docker's arm32v5 (Debian armel)
// images. containerd maps the word "armel" to arm/v6, but a v6 image is
// Raspbian/Alpine's hard-float userland, not Debian armel, so linux/arm/v6
// is deliberately not an armel alias (Lookup rejects it).
var table = []Target{
	{
		Name: "amd64", GOARCH: "amd64",
		UnameM: []string{"x86_64", "amd64"}, DebArch: "amd64",
		Triplet: "x86_64-linux-gnu", Platform: "linux/amd64", FirstGo: "go1",
		Bits: 64, ELFMachine: elf.EM_X86_64, ELFData: elf.ELFDATA2LSB, QEMU: "qemu-x86_64",
	},
	{
		// GO386 is the baseline for Go ≥ 1.16: Debian's i386 port
		// targets i686, which need not have SSE2, so x87 floating point
		// ("softfloat"; before Go 1.16 the same setting was spelled
		// "387"). Host.Go raises it to sse2 on a CPU that has SSE2.
		Name: "386", GOARCH: "386", GO386: "softfloat",
		UnameM: []string{"i686", "i586", "i486", "i386"}, DebArch: "i386",
		Triplet: "i386-linux-gnu", Platform: "linux/386", FirstGo: "go1",
		Bits: 32, ELFMachine: elf.EM_386, ELFData: elf.ELFDATA2LSB, QEMU: "qemu-i386",
	},
	{
		Name: "arm64", GOARCH: "arm64",
		UnameM: []string{"aarch64", "arm64"}, DebArch: "arm64",
		Triplet: "aarch64-linux-gnu", Platform: "linux/arm64", FirstGo: "go1.5",
		Bits: 64, ELFMachine: elf.EM_AARCH64, ELFData: elf.ELFDATA2LSB, QEMU: "qemu-aarch64",
	},
	{
		// armv8l is what an arm64 kernel reports to a process with the
		// linux32 personality: a 32-bit userland on a 64-bit ARM core.
		Name: "armhf", GOARCH: "arm", GOARM: "7",
		UnameM: []string{"armv7l", "armv8l"}, DebArch: "armhf",
		Triplet: "arm-linux-gnueabihf", Platform: "linux/arm/v7", FirstGo: "go1",
		Bits: 32, ELFMachine: elf.EM_ARM, ELFData: elf.ELFDATA2LSB, FloatABI: "hard", QEMU: "qemu-arm",
	},
	{
		Name: "armel", GOARCH: "arm", GOARM: "5",
		UnameM: []string{"armv5tel", "armv5tejl", "armv6l"}, DebArch: "armel",
		Triplet: "arm-linux-gnueabi", Platform: "linux/arm/v5", FirstGo: "go1",
		Bits: 32, ELFMachine: elf.EM_ARM, ELFData: elf.ELFDATA2LSB, FloatABI: "soft", QEMU: "qemu-arm",
	},
	{
		// power8 is the ppc64le ABI's minimum; Go has never supported
		// anything older on ppc64le.
		Name: "ppc64le", GOARCH: "ppc64le", GOPPC64: "power8",
		UnameM: []string{"ppc64le"}, DebArch: "ppc64el",
		Triplet: "powerpc64le-linux-gnu", Platform: "linux/ppc64le", FirstGo: "go1.5",
		Bits: 64, ELFMachine: elf.EM_PPC64, ELFData: elf.ELFDATA2LSB, QEMU: "qemu-ppc64le",
	},
	{
		Name: "s390x", GOARCH: "s390x",
		UnameM: []string{"s390x"}, DebArch: "s390x",
		Triplet: "s390x-linux-gnu", Platform: "linux/s390x", FirstGo: "go1.7",
		Bits: 64, ELFMachine: elf.EM_S390, ELFData: elf.ELFDATA2MSB, QEMU: "qemu-s390x",
	},
	{
		// riscv64 appeared, experimental, in go1.14 (first-class in go1.16).
		Name: "riscv64", GOARCH: "riscv64",
		UnameM: []string{"riscv64"}, DebArch: "riscv64",
		Triplet: "riscv64-linux-gnu", Platform: "linux/riscv64", FirstGo: "go1.14",
		Bits: 64, ELFMachine: elf.EM_RISCV, ELFData: elf.ELFDATA2LSB, QEMU: "qemu-riscv64",
	},
}

// lookupAlias resolves the names no single column of the table holds:
// the words Docker, GNU and packagers use beside the table's own.
func lookupAlias(n string) (Target, bool) {
	aliases := map[string]string{
		"x86-64":                    "amd64",
		"x64":                       "amd64",
		"i686-linux-gnu":            "386",
		"x86":                       "386",
		"aarch64-linux-gnu":         "arm64",
		"armv7":                     "armhf",
		"armv5":                     "armel",
		"ppc64el":                   "ppc64le",
		"powerpc64le":               "ppc64le",
		"armv7-linux-gnueabihf":     "armhf",
		"arm-linux-gnueabihf":       "armhf",
		"armv5te-linux-gnueabi":     "armel",
		"powerpc64le-linux-gnu":     "ppc64le",
		"riscv64gc-linux-gnu":       "riscv64",
		"s390x-ibm-linux-gnu":       "s390x",
		"x86_64-pc-linux-gnu":       "amd64",
		"aarch64-unknown-linux-gnu": "arm64",
	}
	if name, ok := aliases[n]; ok {
		return lookupGOARCH(name)
	}
	return Target{}, false
}
