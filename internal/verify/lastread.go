package verify

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// querier answers instant queries: Prometheus now, or as it was at a moment.
type querier interface {
	Query(ctx context.Context, q string) ([]Sample, error)
}

// asOf is Prometheus answering every query as of t.
type asOf struct {
	p *Prometheus
	t time.Time
}

func (a asOf) Query(ctx context.Context, q string) ([]Sample, error) { return a.p.QueryAt(ctx, q, a.t) }

// lastRead returns where a network check reads the results of the monitor
// Prometheus scrapes as job. Those monitors live in pods, read through the
// first master's apiserver, and when one scrape fails (the proxy slow under
// load, the pod briefly unready) Prometheus marks all the target's series
// stale at once, so a query now finds no results at all. One missed scrape
// is not a broken network: the check then judges the results as of the
// last scrape that worked, if that was within limit, the check's own
// recency bound; a monitor unread for longer fails, saying so.
func lastRead(ctx context.Context, p *Prometheus, check, job string, limit time.Duration) (querier, error) {
	up, err := p.Query(ctx, fmt.Sprintf(`up{job=%q}`, job))
	if err != nil {
		return nil, err
	}
	failing := false
	for _, s := range up {
		failing = failing || s.Value != 1
	}
	if !failing {
		return p, nil // read just now, or never configured: the check says which
	}
	stored, err := p.Stored(ctx, fmt.Sprintf(`up{job=%q}[%ds]`, job, int(limit.Seconds())))
	if err != nil {
		return nil, err
	}
	var last time.Time
	for _, s := range stored {
		for _, pt := range s.Points {
			if pt.Value == 1 && pt.T.After(last) {
				last = pt.T
			}
		}
	}
	if last.IsZero() {
		why := "its scrapes through the first master's apiserver fail"
		if errs, err := p.ScrapeErrors(ctx, job); err == nil && len(errs) > 0 {
			why += ": " + strings.Join(errs, "; ")
		}
		return nil, fmt.Errorf("%s: Prometheus has read nothing from %s in the last %s; %s (is it deployed and running? spire deploy %s)", check, job, limit, why, job)
	}
	return asOf{p, last}, nil
}
