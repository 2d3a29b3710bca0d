package doctor

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Core is one kind of ARM core that /proc/cpuinfo lists: its MIDR
// implementer and part numbers ("CPU implementer : 0x41", "CPU part :
// 0xd0c") and its "CPU architecture" (8 on every ARMv8 core, also when a
// 32-bit program reads it, which is why it says nothing about AArch32).
type Core struct {
	Implementer, Part int
	Architecture      string
	// Count is how many processors of this kind are listed.
	Count int
}

// coreNames are the MIDR values of common cores, for messages only.
var coreNames = map[[2]int]string{
	{0x41, 0xd03}: "Arm Cortex-A53",
	{0x41, 0xd04}: "Arm Cortex-A35",
	{0x41, 0xd05}: "Arm Cortex-A55",
	{0x41, 0xd07}: "Arm Cortex-A57",
	{0x41, 0xd08}: "Arm Cortex-A72",
	{0x41, 0xd09}: "Arm Cortex-A73",
	{0x41, 0xd0b}: "Arm Cortex-A76",
	{0x41, 0xd0c}: "Arm Neoverse N1",
	{0x43, 0x0a1}: "Cavium ThunderX",
	{0x43, 0x0af}: "Cavium ThunderX2",
}

// implementerNames name the MIDR implementer codes used above and below.
var implementerNames = map[int]string{0x41: "Arm", 0x43: "Cavium", 0x61: "Apple"}

// String names the core like "Arm Neoverse N1 (0x41/0xd0c) ×2", or
// "core (0x00/0x051)" when neither number is known.
func (c Core) String() string {
	name, ok := coreNames[[2]int{c.Implementer, c.Part}]
	if !ok {
		name = strings.TrimSpace(implementerNames[c.Implementer] + " core")
	}
	s := fmt.Sprintf("%s (0x%02x/0x%03x)", name, c.Implementer, c.Part)
	if c.Count > 1 {
		s += fmt.Sprintf(" ×%d", c.Count)
	}
	return s
}

// NoAArch32 reports whether the core is known to run no 32-bit ARM code.
// Only cores with a source are listed: Cavium ThunderX, named by the 2020
// armhf field report as "not capable of executing 32-bit Arm instructions",
// and Apple's cores, which implement AArch64 alone. For every other core
// the kernel's answer (personality, exec) decides.
func (c Core) NoAArch32() bool {
	return c.Implementer == 0x61 || (c.Implementer == 0x43 && c.Part == 0x0a1)
}

// parseCores lists the kinds of ARM core in a /proc/cpuinfo text, in the
// order they first appear (big.LITTLE boards have two). Text from any
// other architecture yields none.
func parseCores(text string) []Core {
	var cores []Core
	var cur Core
	seen := false
	flush := func() {
		if !seen {
			return
		}
		for i := range cores {
			if cores[i].Implementer == cur.Implementer && cores[i].Part == cur.Part {
				cores[i].Count++
				cur, seen = Core{}, false
				return
			}
		}
		cur.Count = 1
		cores = append(cores, cur)
		cur, seen = Core{}, false
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case !ok && key == "":
			flush() // a blank line ends one processor's entry
		case key == "CPU implementer":
			cur.Implementer, seen = hexInt(val), true
		case key == "CPU part":
			cur.Part, seen = hexInt(val), true
		case key == "CPU architecture":
			cur.Architecture = val
		}
	}
	flush()
	return cores
}

func hexInt(s string) int {
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
	if err != nil {
		return -1
	}
	return int(n)
}
