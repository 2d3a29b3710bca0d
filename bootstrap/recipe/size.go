package recipe

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads a size hint such as "20G", "512M" or "1.5T" (powers of
// 1024; a bare number is bytes) and returns it in bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B")
	t = strings.TrimSuffix(t, "I") // accept GiB as well as GB and G
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q: write a number with K, M, G or T, like 20G", s)
	}
	return int64(v * float64(mult)), nil
}
