package setupqueue

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"homeworld.dev/homeworld/internal/kubeapply"
)

// DefaultKeep is how many applied items applied/ keeps; the audit log
// keeps a line for every one.
const DefaultKeep = 200

// ItemTimeout bounds one item's apply; kubectl bounds each request (10 s)
// but not a manifest of many objects, nor a kubectl that hangs.
const ItemTimeout = 5 * time.Minute

// Config is what a Queue needs.
type Config struct {
	Dir     string            // the queue folder, DefaultDir on the supervisor
	Kubectl kubeapply.Kubectl // the pinned kubectl and an admin's kubeconfig
	Keep    int               // applied items kept in applied/; DefaultKeep if 0
	Logf    func(format string, args ...any)
}

// Queue applies the items of one queue folder, a cycle at a time. Cycles
// must not overlap (daemon.Every runs them one after another).
type Queue struct {
	cfg Config
	m   *metrics

	manifests   map[string]bool    // every manifest name met, each with its series
	failed      map[string]failure // by item file: pending items whose latest attempt failed
	reported    map[string]bool    // files that are no items, already logged
	unreachable bool               // the API server did not answer at the latest attempt
	dirErr      string             // the folder's latest error, logged once
}

type failure struct {
	manifest string
	err      string
	attempts int
}

// Summary is what one cycle did.
type Summary struct {
	Applied     []string // item files applied, in order
	Failed      []string // item files the API server refused (or that could not be read or moved)
	Pending     int      // items in the queue after the cycle
	Unreachable bool     // the API server did not answer; the cycle stopped there
	Err         error    // the queue folder could not be read
}

// New is a queue for c; register its metrics with Register.
func New(c Config) *Queue {
	if c.Keep <= 0 {
		c.Keep = DefaultKeep
	}
	return &Queue{cfg: c, m: newMetrics(c.Dir), manifests: map[string]bool{}, failed: map[string]failure{}, reported: map[string]bool{}}
}

// Register adds the queue's metrics to reg.
func (q *Queue) Register(reg prometheus.Registerer) error {
	for _, c := range q.m.collectors() {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Cycle runs Once, for daemon.Every; Once's log lines say what happened.
func (q *Queue) Cycle(ctx context.Context) { q.Once(ctx) }

// Once tries every pending item once, in queue order. An item the API
// server refuses stays pending and the next is tried; if the API server
// does not answer at all, the cycle stops and nothing counts as failed.
func (q *Queue) Once(ctx context.Context) Summary {
	var s Summary
	items, err := q.scan()
	if err != nil {
		s.Err = err
		return s
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		q.seen(it.Manifest)
		err := q.apply(ctx, it)
		if err == nil {
			s.Applied = append(s.Applied, it.File)
			continue
		}
		if ctx.Err() != nil {
			break // stopping: the attempt was cut off, not refused
		}
		if errors.Is(err, errUnreachable) {
			s.Unreachable = true
			break
		}
		if errors.Is(err, errGone) {
			continue // deleted since the listing: given up on
		}
		s.Failed = append(s.Failed, it.File)
		q.fail(it, err)
	}
	q.prune()
	s.Pending = q.updateGauges()
	return s
}

var (
	// errUnreachable: the attempt failed because the API server did not
	// answer.
	errUnreachable = errors.New("the API server does not answer")
	// errGone: the item was deleted after the listing.
	errGone = errors.New("the item is gone")
)

// scan prepares the folders and lists the pending items, forgetting the
// failures of items that are gone (applied elsewhere, or removed by an
// operator to give up on them).
func (q *Queue) scan() ([]Item, error) {
	items, others, err := list(q.cfg.Dir)
	if err == nil {
		err = os.MkdirAll(filepath.Join(q.cfg.Dir, AppliedDir), 0o700)
	}
	if err != nil {
		if msg := err.Error(); msg != q.dirErr {
			q.dirErr = msg
			q.cfg.Logf("setup-queue: reading the queue: %v", err)
		}
		return nil, err
	}
	if q.dirErr != "" {
		q.dirErr = ""
		q.cfg.Logf("setup-queue: the queue %s is readable again", q.cfg.Dir)
	}
	for _, name := range others {
		if !q.reported[name] {
			q.reported[name] = true
			q.cfg.Logf("setup-queue: ignoring %s in the queue: items are named SEQUENCE.MANIFEST.yaml", name)
		}
	}
	present := map[string]bool{}
	for _, it := range items {
		present[it.File] = true
	}
	for file := range q.failed {
		if !present[file] {
			delete(q.failed, file)
		}
	}
	return items, nil
}

// apply applies one item and, once it is in, records and moves it.
func (q *Queue) apply(ctx context.Context, it Item) error {
	path := filepath.Join(q.cfg.Dir, it.File)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return errGone
	}
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, ItemTimeout)
	results, err := kubeapply.Apply(actx, q.cfg.Kubectl, string(data))
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			if rerr := kubeapply.Reachable(ctx, q.cfg.Kubectl); rerr != nil {
				q.setUnreachable(rerr)
				return errUnreachable
			}
		}
		q.setUnreachable(nil)
		return err
	}
	q.setUnreachable(nil)
	if err := q.done(it, data, results); err != nil {
		// Applied, but if the record or the move is lost it is applied
		// again next cycle, which changes nothing.
		return fmt.Errorf("applied, but: %w", err)
	}
	q.m.applied.WithLabelValues(it.Manifest).Inc()
	q.m.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
	after := ""
	if f, ok := q.failed[it.File]; ok {
		after = fmt.Sprintf(" (after %d failed attempt%s)", f.attempts, map[bool]string{true: "s"}[f.attempts > 1])
		delete(q.failed, it.File)
	}
	q.cfg.Logf("setup-queue: applied %s%s: %s", it.File, after, summarize(results))
	return nil
}

// fail records a refused attempt, logging it only when its error differs
// from the item's previous one: an item that keeps failing the same way
// logs once, not every cycle.
func (q *Queue) fail(it Item, err error) {
	q.m.failures.WithLabelValues(it.Manifest).Inc()
	f := q.failed[it.File]
	f.manifest = it.Manifest
	f.attempts++
	if msg := oneLine(err.Error()); msg != f.err {
		f.err = msg
		q.cfg.Logf("setup-queue: %s failed (attempt %d; it stays queued and is retried every cycle): %s", it.File, f.attempts, msg)
	}
	q.failed[it.File] = f
}

// oneLine keeps kubectl's multi-line messages to one log line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// setUnreachable records whether the API server answered (err nil) and
// logs when that changes.
func (q *Queue) setUnreachable(err error) {
	now := err != nil
	if now == q.unreachable {
		return
	}
	q.unreachable = now
	if now {
		q.m.unreachable.Set(1)
		q.cfg.Logf("setup-queue: the API server does not answer; items wait and are retried every cycle: %s", oneLine(err.Error()))
		return
	}
	q.m.unreachable.Set(0)
	q.cfg.Logf("setup-queue: the API server answers again")
}

// seen gives manifest its series, at zero, the first time the queue
// meets it, so increase() and absence checks behave from the start.
func (q *Queue) seen(manifest string) {
	if q.manifests[manifest] {
		return
	}
	q.manifests[manifest] = true
	q.m.applied.WithLabelValues(manifest)
	q.m.failures.WithLabelValues(manifest)
	q.m.failing.WithLabelValues(manifest)
}

// updateGauges sets which manifests are failing and returns the pending
// count.
func (q *Queue) updateGauges() int {
	items, _, _ := list(q.cfg.Dir) // may have grown during the cycle
	for _, it := range items {
		q.seen(it.Manifest)
	}
	failing := map[string]bool{}
	for _, f := range q.failed {
		failing[f.manifest] = true
	}
	for name := range q.manifests {
		v := 0.0
		if failing[name] {
			v = 1
		}
		q.m.failing.WithLabelValues(name).Set(v)
	}
	return len(items)
}
