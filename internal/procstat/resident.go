package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Resident is pid's resident memory in bytes (VmRSS of /proc/PID/status):
// 0 for a kernel thread, which has none. An error reading the file (the
// process is gone) is the *fs.PathError os.ReadFile returns; a line that
// does not parse is another error.
func Resident(pid int) (int64, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("%s: %q is not a size in kB", path, line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %q: %w", path, line, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, nil
}
