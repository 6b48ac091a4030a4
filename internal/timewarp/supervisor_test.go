package timewarp

import (
	"context"
	"net"
	"sync"
	"testing"

	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/keysystemtest"
)

// supervisor runs the simulation's keyserver, from the supervisor's files
// of a keysystemtest cluster, on one listening socket it keeps through
// every outage. A keyserver that stopped would release its port, and over
// hundreds of outages some other socket of the machine (a node's source
// port, another test's server) takes it sooner or later. While the
// keyserver is down, connections are instead reset as soon as they are
// accepted, as a host whose keyserver is down refuses them.
type supervisor struct {
	t       testing.TB
	cluster *keysystemtest.Cluster
	ln      net.Listener
	opts    keyserver.Options

	mu   sync.Mutex
	cur  *session // nil while down
	stop context.CancelFunc
	done chan error
}

func startSupervisor(t testing.TB, c *keysystemtest.Cluster, opts keyserver.Options) *supervisor {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(c.Config.Supervisor().IP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s := &supervisor{t: t, cluster: c, ln: ln, opts: opts}
	go s.acceptLoop()
	t.Cleanup(func() {
		s.down()
		ln.Close()
	})
	s.up()
	return s
}

// Addr is where the keyserver listens.
func (s *supervisor) Addr() string { return s.ln.Addr().String() }

func (s *supervisor) acceptLoop() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		cur := s.cur
		s.mu.Unlock()
		if cur == nil || !cur.hand(conn) {
			if tcp, ok := conn.(*net.TCPConn); ok {
				tcp.SetLinger(0) // reset, not an orderly close
			}
			conn.Close()
		}
	}
}

// up starts a keyserver loaded from the supervisor's files.
func (s *supervisor) up() {
	s.t.Helper()
	srv, _, err := keyserver.Load(s.cluster.Supervisor, s.cluster.Lifetimes, s.opts)
	if err != nil {
		s.t.Fatal(err)
	}
	sess := &session{conns: make(chan net.Conn), closed: make(chan struct{}), addr: s.ln.Addr()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s.mu.Lock()
	s.cur, s.stop, s.done = sess, cancel, done
	s.mu.Unlock()
	go func() { done <- srv.Serve(ctx, sess) }()
}

// down stops the keyserver and waits for it to finish.
func (s *supervisor) down() {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.cur, s.stop, s.done = nil, nil, nil
	s.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	if err := <-done; err != nil {
		s.t.Errorf("keyserver: %v", err)
	}
}

// session is the listener one keyserver serves on: the connections the
// supervisor's socket accepts while that keyserver is up.
type session struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

// hand gives conn to the keyserver; false if it has stopped.
func (s *session) hand(conn net.Conn) bool {
	select {
	case s.conns <- conn:
		return true
	case <-s.closed:
		return false
	}
}

func (s *session) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

func (s *session) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *session) Addr() net.Addr { return s.addr }
