package procstat

import (
	"os"
	"strconv"
	"testing"
)

// This process's own stat: running or sleeping, and its parent's PID in
// field 4.
func TestFieldsOfSelf(t *testing.T) {
	f, err := Fields(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(f) < 20 || (f[0] != "R" && f[0] != "S") || f[1] != strconv.Itoa(os.Getppid()) {
		t.Errorf("Fields(self) = %q", f)
	}
	if _, err := Fields(-1); err == nil {
		t.Error("Fields(-1) succeeded")
	}
}
