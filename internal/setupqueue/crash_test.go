package setupqueue

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kubetest"
	"homeworld.dev/homeworld/internal/supervise"
	"homeworld.dev/homeworld/internal/testutil"
)

// crashItems is how many ConfigMaps the crash test queues, one item each:
// enough that the daemon is killed with work done and work left.
const crashItems = 30

// testCrashSafety runs the real setup-queue binary, kills it with SIGKILL
// while a kubectl of its is applying, and starts it again: every object
// must be there once, owned by the field manager "homeworld" alone, as
// an Apply, however many times an item was applied.
func testCrashSafety(t *testing.T, api *kubetest.APIServer) {
	bin := buildDaemon(t)
	dir := t.TempDir()
	if _, err := Enqueue(dir, "ns", namespace("crash")); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range crashItems {
		name := fmt.Sprintf("cm-%02d", i)
		want = append(want, name)
		if _, err := Enqueue(dir, "config", configMapIn("crash", name)); err != nil {
			t.Fatal(err)
		}
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(kubetest.FreePort(t)))
	home := t.TempDir() // the daemon's HOME, which its kubectl must leave alone
	run := func(log string) *exec.Cmd {
		logFile, err := os.Create(filepath.Join(t.TempDir(), log))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--queue", dir, "--kubectl", api.KubectlBin, "--kubeconfig", api.Kubeconfig,
			"--listen", listen, "--interval", "200ms")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.Env = append(os.Environ(), "HOME="+home)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // with any kubectl left
			logFile.Close()
			if t.Failed() {
				data, _ := os.ReadFile(logFile.Name())
				t.Logf("%s:\n%s", log, data)
			}
		})
		return cmd
	}
	applied := func() int {
		items, _ := Pending(filepath.Join(dir, AppliedDir))
		return len(items)
	}

	first := run("first.log")
	testutil.WaitFor(t, 2*time.Minute, "some items applied and a kubectl running", func() (bool, error) {
		n := applied()
		if n > crashItems {
			t.Fatalf("all %d items were applied before the kill", n)
		}
		return n >= 3 && kubectlRunning(first.Process.Pid), fmt.Errorf("%d items applied", n)
	})
	first.Process.Signal(syscall.SIGKILL) // its kubectl carries on, orphaned, as after a real crash
	first.Wait()
	t.Logf("killed with %d of %d items applied", applied(), crashItems+1)

	second := run("second.log")
	testutil.WaitFor(t, 2*time.Minute, "the queue emptied after the restart", func() (bool, error) {
		items, err := Pending(dir)
		return err == nil && len(items) == 0, fmt.Errorf("%d items pending (%v)", len(items), err)
	})
	// Its metrics say so too, once its cycle has ended.
	testutil.WaitFor(t, time.Minute, "setup_queue_pending 0 on /metrics", func() (bool, error) {
		text, err := get("http://" + listen + "/metrics")
		if err != nil {
			return false, err
		}
		s, err := StatusOfMetrics(strings.NewReader(text))
		if err != nil || !s.OK() {
			return false, fmt.Errorf("%v (%v)", s, err)
		}
		checkMetrics(t, text)
		return true, nil
	})
	exited := make(chan struct{})
	go func() { second.Wait(); close(exited) }()
	if killed := supervise.Stop(supervise.Process{PID: second.Process.Pid, Exited: exited}, 10*time.Second); killed {
		t.Error("setup-queue did not stop on SIGTERM")
	}

	// kubectl's discovery cache is the queue's, not in HOME.
	if entries, err := os.ReadDir(home); err != nil || len(entries) != 0 {
		t.Errorf("the daemon's HOME holds %v (%v), want nothing", entries, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, KubectlCache, "discovery")); err != nil || !fi.IsDir() {
		t.Errorf("kubectl's discovery cache in the queue: %v", err)
	}

	// A move into applied/ that the crash undid: the item is queued
	// again, and applying it again changes nothing.
	appliedItems, _ := Pending(filepath.Join(dir, AppliedDir))
	back := appliedItems[1].File // cm-00's item
	data, err := os.ReadFile(filepath.Join(dir, AppliedDir, back))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, back), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if s := New(Config{Dir: dir, Kubectl: admin(api), Logf: t.Logf}).Once(t.Context()); !slices.Equal(s.Applied, []string{back}) {
		t.Errorf("the item back in the queue: %+v, want it applied", s)
	}
	records := auditLog(t, dir)
	if last := records[len(records)-1]; last.Item != back || !slices.Equal(last.Objects, []string{"configmap/cm-00 unchanged"}) {
		t.Errorf("applying %s again: %+v, want cm-00 unchanged", back, last)
	}

	if n := applied(); n != crashItems+1 {
		t.Errorf("applied/ holds %d items, want %d", n, crashItems+1)
	}
	inLog := map[string]bool{}
	for _, r := range records {
		inLog[r.Item] = true
	}
	if len(inLog) != crashItems+1 {
		t.Errorf("the audit log names %d items, want %d", len(inLog), crashItems+1)
	}

	var list struct {
		Items []struct {
			Metadata struct {
				Name          string `json:"name"`
				ManagedFields []struct {
					Manager   string `json:"manager"`
					Operation string `json:"operation"`
				} `json:"managedFields"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(api.Kubectl(t, "get", "configmaps", "-n", "crash", "-o", "json", "--show-managed-fields"), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cm := range list.Items {
		got = append(got, cm.Metadata.Name)
		mf := cm.Metadata.ManagedFields
		if len(mf) != 1 || mf[0].Manager != "homeworld" || mf[0].Operation != "Apply" {
			t.Errorf("configmap %s: managedFields %+v, want one entry, manager homeworld, operation Apply", cm.Metadata.Name, mf)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("configmaps in namespace crash: %v, want %v", got, want)
	}
}

// kubectlRunning reports whether pid has a kubectl child right now.
func kubectlRunning(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, task := range tasks {
		data, _ := os.ReadFile(task)
		for _, child := range strings.Fields(string(data)) {
			comm, _ := os.ReadFile("/proc/" + child + "/comm")
			if strings.TrimSpace(string(comm)) == "kubectl" {
				return true
			}
		}
	}
	return false
}

func get(url string) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	return string(body), err
}

// buildDaemon builds cmd/setup-queue for a test that runs the daemon.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "setup-queue")
	if out, err := exec.Command("go", "build", "-o", bin, "homeworld.dev/homeworld/cmd/setup-queue").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
