// Package procstat reads a process's state from /proc: the fields of
// /proc/PID/stat, whose second field, the command name in parentheses, may
// itself hold spaces and parentheses (the fields after it start after the
// last ")"), and its resident memory from /proc/PID/status. Process
// supervision, the test hosts, the test keyserver's CPU accounting and the
// virtual-cluster test's memory budgets import it.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Fields returns pid's stat fields from field 3 (the state) on: Fields[0]
// is field 3, Fields[i] field i+3, as proc(5) numbers them.
func Fields(pid int) ([]string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(data[i+1:])), nil
}
