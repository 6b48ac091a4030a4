package installer

import (
	"fmt"

	"homeworld.dev/homeworld/internal/config"
)

// source says where the config came from, so refusals can point at lines.
type source struct{ Options }

func (s source) problem(field, format string, args ...any) error {
	file := s.File
	if file == "" {
		file = config.FileName
	}
	return config.Problems{config.ProblemAt(file, s.Source, field, format, args...)}
}

// lineSafe says what stops s from being one preseed or file line, or "".
// A preseed value is the rest of its line and has no quoting, so anything
// that could end the line or hide in it is refused rather than escaped.
func lineSafe(s string) string {
	if s == "" {
		return "must not be empty"
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return fmt.Sprintf("%q holds %q; use printable ASCII on one line", s, r)
		}
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return fmt.Sprintf("%q has spaces at an end, which the installer would drop", s)
	}
	return ""
}
