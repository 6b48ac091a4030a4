package pullmonitor

import "testing"

func TestParseLog(t *testing.T) {
	for _, c := range []struct {
		name, log string
		want      Output
	}{
		{"empty", "", Output{}},
		{"one line", "2026-01-02T03:04:05.123456789Z stdout F hello container world [!1!]\n",
			Output{Stdout: "hello container world [!1!]"}},
		{"no final newline", "2026-01-02T03:04:05Z stdout F a", Output{Stdout: "a"}},
		{"streams apart", "2026-01-02T03:04:05Z stdout F out\n2026-01-02T03:04:05Z stderr F err\n2026-01-02T03:04:06Z stdout F more\n",
			Output{Stdout: "out\nmore", Stderr: "err"}},
		{"a long line in parts", "2026-01-02T03:04:05Z stdout P hello \n2026-01-02T03:04:05Z stdout P container \n2026-01-02T03:04:05Z stdout F world\n",
			Output{Stdout: "hello container world"}},
		{"content with spaces kept", "2026-01-02T03:04:05Z stdout F  two  spaces \n", Output{Stdout: " two  spaces "}},
		{"an empty line", "2026-01-02T03:04:05Z stdout F \n2026-01-02T03:04:05Z stdout F x\n", Output{Stdout: "\nx"}},
		{"more tags", "2026-01-02T03:04:05Z stdout F:x y\n", Output{Stdout: "y"}},
	} {
		got, err := ParseLog([]byte(c.log))
		if err != nil || got != c.want {
			t.Errorf("%s: ParseLog(%q) = %+v, %v; want %+v", c.name, c.log, got, err, c.want)
		}
	}
}

func TestParseLogRejects(t *testing.T) {
	for _, log := range []string{
		"hello container world\n",
		"yesterday stdout F x\n",
		"2026-01-02T03:04:05Z stdin F x\n",
		"2026-01-02T03:04:05Z stdout X x\n",
		"2026-01-02T03:04:05Z stdout\n",
		"2026-01-02T03:04:05Z stdout F x\n\n2026-01-02T03:04:05Z stdout F y\n",
	} {
		if got, err := ParseLog([]byte(log)); err == nil {
			t.Errorf("ParseLog(%q) = %+v; want an error", log, got)
		}
	}
}
