package gateway

import (
	"bytes"
	"container/list"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimiter bounds the gateway's open connections, per client address and in total, so that
// a flood of slow or idle connections from a few addresses cannot take every file descriptor
// (the 20,000 slow-body connections of issue 12 did).
//
// The model: every accepted connection counts against its address (an IPv4 address, or an
// IPv6 /64, the block one subscriber is usually given) and against the total, until it is
// closed. When a new connection would go over a bound, the oldest idle keep-alive connection of
// the same address is closed to make room: browsers reopen such a connection at their next
// request, so a campus or carrier NAT with many polling visitors behind one address is not
// refused for its idle connections (another address's idle connections are never taken: they
// are real visitors', an attacker's are never idle). Only when nothing is idle is the new
// connection refused: it gets a 503 `busy` with Retry-After (or, while too many refusals
// are already being written, is simply closed). Over the total bound, an address that holds
// fewer than two connections may still use a small reserve, so a health checker or a visitor's
// first connection gets in while an attacker holding many connections does not.
//
// Trusted proxies are exempt from the per-address bound (every visitor behind a load balancer
// arrives from its few addresses) but not from the total. Safe for concurrent use.
type connLimiter struct {
	maxTotal   int
	maxPerAddr int
	reserve    int
	trusted    []*net.IPNet

	mu     sync.Mutex
	total  int
	byAddr map[string]*addrConns
	idle   list.List // *limitedConn in StateIdle, oldest first

	refusing chan struct{} // bounds the goroutines writing refusals

	refused   *prometheus.CounterVec
	reclaimed prometheus.Counter
}

// addrConns is one address's open connections and those of them that are idle.
type addrConns struct {
	n    int
	idle list.List // *limitedConn, oldest first
}

// maxRefusers bounds refusals written at once; more are closed without an answer.
const maxRefusers = 128

// busyRetryAfter is the Retry-After, in seconds, of a refused connection.
const busyRetryAfter = 5

// newConnLimiter builds the limiter; zero bounds turn it off. Its metrics go to reg.
func newConnLimiter(maxTotal, maxPerAddr int, trusted []*net.IPNet, reg prometheus.Registerer) *connLimiter {
	l := &connLimiter{
		maxTotal:   maxTotal,
		maxPerAddr: maxPerAddr,
		reserve:    max(16, maxTotal/64),
		trusted:    trusted,
		byAddr:     map[string]*addrConns{},
		refusing:   make(chan struct{}, maxRefusers),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_http_connections_refused_total",
			Help: "Connections refused by the connection bounds, by reason (per_address, total)."}, []string{"reason"}),
		reclaimed: prometheus.NewCounter(prometheus.CounterOpts{Name: "foyer_http_connections_reclaimed_total",
			Help: "Idle keep-alive connections closed to make room for a new connection."}),
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "foyer_http_connections_open",
		Help: "Open client connections."}, func() float64 { return float64(l.open()) })
	reg.MustRegister(l.refused, l.reclaimed, open)
	return l
}

// open is the number of open connections.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// idleCount is the number of idle keep-alive connections.
func (l *connLimiter) idleCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idle.Len()
}

// wrap returns ln with the bounds applied.
func (l *connLimiter) wrap(ln net.Listener) net.Listener { return &limitedListener{Listener: ln, l: l} }

// limitedListener hands out only connections within the bounds.
type limitedListener struct {
	net.Listener
	l *connLimiter
}

// Accept returns the next connection within the bounds; refused ones are answered in the
// background and never returned.
func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := ln.l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// limitedConn is a connection counted by the limiter until it is closed.
type limitedConn struct {
	net.Conn
	l      *connLimiter
	key    string
	once   sync.Once
	idleAt *list.Element // in l.idle, while idle (guarded by l.mu)
	addrAt *list.Element // in the address's idle list, while idle (guarded by l.mu)
	// released is set once the connection's place is given back (guarded by l.mu).
	released bool
}

// Close closes the connection and gives its place back.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

// CloseWrite half-closes the connection when the underlying one can (net/http uses it to let
// a client read an error answer before the close).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the underlying connection's sendfile/splice path for static files.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// addrKey is the address a connection counts against, and whether it is a trusted proxy.
func (l *connLimiter) addrKey(a net.Addr) (string, bool) {
	var ip net.IP
	if ta, ok := a.(*net.TCPAddr); ok {
		ip = ta.IP
	} else if host, _, err := net.SplitHostPort(a.String()); err == nil {
		ip = net.ParseIP(host)
	}
	if ip == nil {
		return a.String(), false
	}
	for _, n := range l.trusted {
		if n.Contains(ip) {
			return "", true
		}
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String(), false
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64", false
}

// admit counts c in, closing an idle connection to make room if it must, or refuses it (and
// returns nil).
func (l *connLimiter) admit(c net.Conn) *limitedConn {
	key, exempt := l.addrKey(c.RemoteAddr())
	l.mu.Lock()
	a := l.byAddr[key]
	var victim *limitedConn
	reason := ""
	if !exempt && l.maxPerAddr > 0 && a != nil && a.n >= l.maxPerAddr {
		if victim = oldestIdle(&a.idle); victim == nil {
			reason = "per_address"
		}
	}
	if reason == "" && victim == nil && l.maxTotal > 0 && l.total >= l.maxTotal {
		// Only the address's own idle connection makes room: over the total bound the idle
		// ones are real visitors' (an attacker's connections are never idle), and closing them
		// for a newcomer would hand their places to whoever holds the most connections.
		if a != nil {
			victim = oldestIdle(&a.idle)
		}
		if victim == nil {
			few := exempt || a == nil || a.n < 2
			if !few || l.total >= l.maxTotal+l.reserve {
				reason = "total"
			}
		}
	}
	if reason != "" {
		l.mu.Unlock()
		l.refused.WithLabelValues(reason).Inc()
		l.refuse(c)
		return nil
	}
	if victim != nil {
		l.unidleLocked(victim) // counted until its Close, which follows at once
	}
	if a == nil {
		a = &addrConns{}
		l.byAddr[key] = a
	}
	a.n++
	l.total++
	l.mu.Unlock()
	if victim != nil {
		l.reclaimed.Inc()
		_ = victim.Close()
	}
	return &limitedConn{Conn: c, l: l, key: key}
}

func oldestIdle(idle *list.List) *limitedConn {
	if e := idle.Front(); e != nil {
		return e.Value.(*limitedConn)
	}
	return nil
}

// release gives a closed connection's place back.
func (l *connLimiter) release(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unidleLocked(c)
	c.released = true
	l.total--
	if a := l.byAddr[c.key]; a != nil {
		if a.n--; a.n <= 0 {
			delete(l.byAddr, c.key)
		}
	}
}

func (l *connLimiter) unidleLocked(c *limitedConn) {
	if c.idleAt != nil {
		l.idle.Remove(c.idleAt)
		c.idleAt = nil
	}
	if c.addrAt != nil {
		if a := l.byAddr[c.key]; a != nil {
			a.idle.Remove(c.addrAt)
		}
		c.addrAt = nil
	}
}

// connState is the http.Server's ConnState hook: it keeps the lists of idle connections.
func (l *connLimiter) connState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unidleLocked(c)
	if st != http.StateIdle || c.released {
		return
	}
	a := l.byAddr[c.key]
	c.idleAt = l.idle.PushBack(c)
	c.addrAt = a.idle.PushBack(c)
}

// busyResponse is what a refused connection is told.
var busyResponse = func() []byte {
	body := `{"error":{"code":"busy","message":"the waiting room is very busy; try again in a few seconds, your place is kept"}}`
	return []byte("HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/json\r\n" +
		"Cache-Control: no-store\r\n" +
		"Retry-After: " + strconv.Itoa(busyRetryAfter) + "\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// refuse answers a refused connection with a 503 in the background, reading its request
// headers first (briefly) so that the answer is not lost to a reset; when too many refusals
// are in flight it is closed at once.
func (l *connLimiter) refuse(c net.Conn) {
	select {
	case l.refusing <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 4096)
		var seen []byte
		for len(seen) < 16<<10 {
			n, err := c.Read(buf)
			seen = append(seen, buf[:n]...)
			if bytes.Contains(seen, []byte("\r\n\r\n")) || err != nil {
				break
			}
		}
		if _, err := c.Write(busyResponse); err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
			for { // let the client read the answer before the close; drop what it still sends
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}
	}()
}
