package virt

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/setupqueue"
)

// QueueDir is the supervisor's setup queue, as this machine sees it: every
// manifest reaches the cluster through it, RBAC included.
func (t *Topology) QueueDir() string {
	return t.nodeByKind(config.KindSupervisor).Folder(setupqueue.DefaultDir)
}

// Manifest is one item for the setup queue.
type Manifest struct {
	Name string // short name, e.g. "dns-addon"
	Text string
}

// Enqueue puts manifests into the supervisor's queue, in order, and
// returns the items' paths.
func Enqueue(t *Topology, ms ...Manifest) ([]string, error) {
	var paths []string
	for _, m := range ms {
		p, err := setupqueue.Enqueue(t.QueueDir(), m.Name, m.Text)
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// WaitApplied waits until the setup queue has applied every item, and
// returns what it did to each (its audit records, in the items' order).
// When ctx ends first it names the items still waiting and, from the
// queue's metrics, those the API refuses.
func WaitApplied(ctx context.Context, t *Topology, items []string) ([]setupqueue.Record, error) {
	var done map[string]setupqueue.Record
	for {
		var err error
		done, err = setupqueue.Applied(t.QueueDir(), items)
		if err != nil {
			return nil, err
		}
		if len(done) == len(items) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, queueStuck(t, items, done)
		case <-time.After(200 * time.Millisecond):
		}
	}
	out := make([]setupqueue.Record, 0, len(items))
	for _, it := range items {
		out = append(out, done[filepath.Base(it)])
	}
	return out, nil
}

// queueStuck says which items the queue has not applied, and why if its
// metrics tell.
func queueStuck(t *Topology, items []string, done map[string]setupqueue.Record) error {
	var waiting []string
	for _, it := range items {
		if _, ok := done[filepath.Base(it)]; !ok {
			waiting = append(waiting, filepath.Base(it))
		}
	}
	why := "is setup-queue running on the supervisor?"
	sup := t.nodeByKind(config.KindSupervisor)
	client := http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(services.SetupQueue.URL(sup.IP, "/metrics")); err == nil {
		st, serr := setupqueue.StatusOfMetrics(resp.Body)
		resp.Body.Close()
		if serr == nil {
			why = st.String() + " (its log on the supervisor says why)"
		}
	}
	slices.Sort(waiting)
	return fmt.Errorf("the setup queue has not applied %s: %s", strings.Join(waiting, ", "), why)
}

// Objects counts the objects the records applied.
func Objects(rs []setupqueue.Record) int {
	n := 0
	for _, r := range rs {
		n += len(r.Objects)
	}
	return n
}

// SupervisorRoot is the supervisor's root folder, as this machine sees it.
func (t *Topology) SupervisorRoot() string {
	return t.nodeByKind(config.KindSupervisor).Folder("/")
}
