package arch

import "testing"

// TestDescribe: the rows `bootstrap arch` prints for a 32-bit userland on
// a 64-bit ARM kernel, in order, with what detection saw.
func TestDescribe(t *testing.T) {
	armhf, _ := Lookup("armhf")
	h := Host{Target: armhf, UnameM: "armv8l", Kernel: "aarch64", KernelBits: 64, Linux32: true,
		CPU: CPU{ARMLevel: 8, Features: true, VFP: true, NEON: true}}
	got := map[string]string{}
	var order []string
	for _, r := range h.Describe("") {
		got[r.Label] = r.Value
		order = append(order, r.Label)
	}
	for label, want := range map[string]string{
		"target": "armhf", "uname -m": "armv8l (linux32 personality)", "kernel": "aarch64, 64-bit",
		"userland": "unknown (from uname -m)", "cpu": "ARM architecture 8, vfp=true neon=true",
		"GOARCH": "arm", "GOARM": "7", "debian": "armhf", "triplet": "arm-linux-gnueabihf", "platform": "linux/arm/v7",
	} {
		if got[label] != want {
			t.Errorf("%s = %q, want %q", label, got[label], want)
		}
	}
	if order[0] != "target" || order[len(order)-1] != "first Go" {
		t.Errorf("rows in order %v: want target first and first Go last", order)
	}
	if s := (CPU{}).summary(); s != "unknown" {
		t.Errorf("empty CPU summary = %q", s)
	}
}
