package procstat

import (
	"errors"
	"io/fs"
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

// This process is resident (a Go test binary holds megabytes); one that
// does not exist is an error reading its file.
func TestResidentOfSelf(t *testing.T) {
	b, err := Resident(os.Getpid())
	if err != nil || b < 1<<20 {
		t.Errorf("Resident(self) = %d, %v", b, err)
	}
	var pe *fs.PathError
	if _, err := Resident(-1); !errors.As(err, &pe) {
		t.Errorf("Resident(-1): %v, want the error reading its status", err)
	}
}
