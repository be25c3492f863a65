package provider

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSemver parses "major.minor.patch" (a leading "v" and a pre-release or
// build suffix are ignored).
func ParseSemver(s string) (Semver, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return Semver{}, fmt.Errorf("version %q: want major.minor.patch", s)
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return Semver{}, fmt.Errorf("version %q: %q is not a non-negative number", s, p)
		}
		v[i] = n
	}
	return Semver{v[0], v[1], v[2]}, nil
}

// String formats the version as major.minor.patch.
func (v Semver) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Compare returns -1, 0 or 1 as v is below, equal to or above w.
func (v Semver) Compare(w Semver) int {
	for _, d := range [3]int{v.Major - w.Major, v.Minor - w.Minor, v.Patch - w.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// Contains reports whether v lies in [f.Min, f.Max].
func (f VersionFilter) Contains(v Semver) bool {
	return v.Compare(f.Min) >= 0 && v.Compare(f.Max) <= 0
}
