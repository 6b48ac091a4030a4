// Package setupqueue is the supervisor's setup queue (spec §3.12): spire
// drops Kubernetes manifests (RBAC, add-ons) into a folder with Enqueue,
// and a Queue, run by cmd/setup-queue, applies them to the cluster
// server-side as the field manager "homeworld" (internal/kubeapply), in
// the order they were enqueued.
//
// An item is one file, SEQUENCE.MANIFEST.yaml, holding one or more YAML
// documents; SEQUENCE is the enqueue time, so names sort in enqueue order.
// Unlike the original's queue, which stopped at the first failure, an item
// the API rejects stays queued and the items after it are still tried; the
// next cycle tries it again, so an item whose dependency is enqueued after
// it goes in on a later cycle. An applied item is moved into applied/ and
// recorded in applied/audit.log. Applying is idempotent, so an item
// applied just before a crash, and never moved, is harmlessly applied
// again.
//
// spire (deploy, virt up) imports it to enqueue and spire verify to read
// the queue's state (Status); cmd/setup-queue runs Command.
package setupqueue

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/layout"
)

// DefaultDir is the queue on the supervisor.
const DefaultDir = layout.HomeworldDir + "/deployqueue"

// AppliedDir, inside the queue, keeps the applied items and the audit log.
const AppliedDir = "applied"

// KubectlCache, inside the queue, is kubectl's discovery cache: the
// daemon's own, not in the home folder of whoever runs it. Hidden, so no
// item or stray file.
const KubectlCache = ".kubectl-cache"

// AuditLog, in AppliedDir, has a JSON line for every item applied.
const AuditLog = "audit.log"

// Item is one queued manifest.
type Item struct {
	File     string // its file name, SEQUENCE.MANIFEST.yaml
	Seq      int64  // enqueue time, Unix nanoseconds
	Manifest string // its short name: "rbac", "dns-addon"
}

// itemName is SEQUENCE.MANIFEST.yaml with SEQUENCE as Unix seconds and
// nine decimals, fixed width so that names sort as times do (until 2286).
var itemName = regexp.MustCompile(`^([0-9]{10})\.([0-9]{9})\.([a-z0-9]+(?:-[a-z0-9]+)*)\.yaml$`)

// manifestName is the MANIFEST part alone.
var manifestName = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// maxManifestName keeps names short enough to read as a label value.
const maxManifestName = 63

// CheckManifestName says why name cannot name a manifest: it must be
// lowercase letters and digits, in words joined by single dashes.
func CheckManifestName(name string) error {
	if len(name) > maxManifestName || !manifestName.MatchString(name) {
		return fmt.Errorf("manifest name %q: want lowercase letters and digits joined by single dashes, at most %d characters, such as dns-addon", name, maxManifestName)
	}
	return nil
}

// FileName is the item file name for manifest enqueued at seq (Unix
// nanoseconds); spire uses it when it uploads to a supervisor instead of
// calling Enqueue there.
func FileName(seq int64, manifest string) (string, error) {
	if err := CheckManifestName(manifest); err != nil {
		return "", err
	}
	if seq < 0 {
		return "", fmt.Errorf("sequence %d is before 1970", seq)
	}
	return fmt.Sprintf("%010d.%09d.%s.yaml", seq/1e9, seq%1e9, manifest), nil
}

// SeqOf is the sequence of time t.
func SeqOf(t time.Time) int64 { return t.UnixNano() }

// ParseItem reads an item file name; ok is false for any other file
// (temporary files of Enqueue, dotfiles, the operator's notes).
func ParseItem(file string) (it Item, ok bool) {
	m := itemName.FindStringSubmatch(file)
	if m == nil || len(m[3]) > maxManifestName {
		return Item{}, false
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	nsec, _ := strconv.ParseInt(m[2], 10, 64)
	return Item{File: file, Seq: sec*1e9 + nsec, Manifest: m[3]}, true
}

// list returns the items in dir in queue order, and the names of the
// other files there that are not hidden or temporary, to be reported.
// A missing dir is an empty queue.
func list(dir string) (items []Item, others []string, err error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if it, ok := ParseItem(name); ok && e.Type().IsRegular() {
			items = append(items, it)
		} else if !e.IsDir() && !ignoredQuietly(name) {
			others = append(others, name)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].File < items[j].File })
	return items, others, nil
}

// ignoredQuietly: hidden files (Enqueue's temporary files among them) and
// editors' leftovers are no items and not worth a log line.
func ignoredQuietly(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, "~") || strings.HasSuffix(name, ".swp")
}

// Pending lists the items waiting in the queue dir, in the order they will
// be applied.
func Pending(dir string) ([]Item, error) {
	items, _, err := list(dir)
	return items, err
}
