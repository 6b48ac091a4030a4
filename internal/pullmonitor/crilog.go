package pullmonitor

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Output is what a container printed, each stream's lines joined by
// newlines, without the last newline.
type Output struct {
	Stdout, Stderr string
}

// ParseLog reads a container log file in the CRI's format, one line per
// record: "TIMESTAMP STREAM TAGS CONTENT", where TIMESTAMP is RFC 3339,
// STREAM is stdout or stderr, and TAGS starts with F for the end of a line
// or P for a part of a longer line that the next records continue.
func ParseLog(data []byte) (Output, error) {
	var stdout, stderr strings.Builder
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 && len(data) == 0 {
			break // an empty log: the container printed nothing
		}
		f := strings.SplitN(string(line), " ", 4)
		if len(f) < 3 {
			return Output{}, fmt.Errorf("log line %d: %q is not TIMESTAMP STREAM TAGS CONTENT", i+1, line)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			return Output{}, fmt.Errorf("log line %d: timestamp: %w", i+1, err)
		}
		var into *strings.Builder
		switch f[1] {
		case "stdout":
			into = &stdout
		case "stderr":
			into = &stderr
		default:
			return Output{}, fmt.Errorf("log line %d: unknown stream %q", i+1, f[1])
		}
		if len(f) == 4 {
			into.WriteString(f[3])
		}
		switch tag, _, _ := strings.Cut(f[2], ":"); tag {
		case "F":
			into.WriteByte('\n')
		case "P":
		default:
			return Output{}, fmt.Errorf("log line %d: unknown tag %q", i+1, f[2])
		}
	}
	return Output{Stdout: strings.TrimSuffix(stdout.String(), "\n"), Stderr: strings.TrimSuffix(stderr.String(), "\n")}, nil
}
