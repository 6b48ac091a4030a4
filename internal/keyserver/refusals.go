package keyserver

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds on what a refusal line may carry: refusals echo what a caller
// sent, and a caller must not be able to grow the log with it.
const (
	maxDetail     = 300
	maxEchoedName = 64
)

// sanitize makes caller-influenced text safe and short for the audit log:
// control and invalid characters become '?', and it is cut at max bytes.
func sanitize(s string, max int) string {
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= max {
			b.WriteString("…(" + strconv.Itoa(len(s)-i) + " more bytes)")
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// refusalLimiter bounds how many anonymous refusals one address may put in
// the audit log: the first perWindow in each window are written, the rest
// are counted and summarized in the address's next written line.
type refusalLimiter struct {
	perWindow int
	window    time.Duration
	maxAddrs  int

	mu    sync.Mutex
	addrs map[netip.Addr]*refusalWindow
}

type refusalWindow struct {
	start      time.Time
	written    int
	suppressed int
}

func newRefusalLimiter() *refusalLimiter {
	return &refusalLimiter{perWindow: 10, window: time.Minute, maxAddrs: 4096, addrs: map[netip.Addr]*refusalWindow{}}
}

// admit reports whether a refusal from addr at now is written, and how many
// earlier ones from addr were suppressed since its last written line.
func (l *refusalLimiter) admit(addr netip.Addr, now time.Time) (write bool, suppressedBefore int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.addrs[addr]
	if w == nil {
		if len(l.addrs) >= l.maxAddrs {
			l.expire(now)
		}
		if len(l.addrs) >= l.maxAddrs {
			return false, 0 // a flood from many addresses: count only
		}
		w = &refusalWindow{start: now}
		l.addrs[addr] = w
	}
	if now.Sub(w.start) >= l.window {
		w.start, w.written = now, 0
	}
	if w.written >= l.perWindow {
		w.suppressed++
		return false, 0
	}
	w.written++
	suppressedBefore, w.suppressed = w.suppressed, 0
	return true, suppressedBefore
}

// expire forgets addresses quiet for a whole window whose suppressed
// refusals were all reported.
func (l *refusalLimiter) expire(now time.Time) {
	for a, w := range l.addrs {
		if now.Sub(w.start) >= l.window && w.suppressed == 0 {
			delete(l.addrs, a)
		}
	}
}
