package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// edgeServer serves h's gateway the way foyer serve does: its http.Server (deadlines) on its
// bounded listener, on a real loopback socket. It returns the address.
func edgeServer(t *testing.T, h *harness) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := h.gw.HTTPServer()
	go func() { _ = srv.Serve(h.gw.Listener(ln)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// dialFrom opens a TCP connection to addr from the loopback address from (127.0.0.x: every
// one of them is on lo, so a test can play several clients).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedByServer reads c until the server closes it, or fails the test after within (a
// generous bound: the deadlines under test are far shorter). It returns what was read.
func closedByServer(t *testing.T, c net.Conn, within time.Duration) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	var got strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server kept the connection open for %s (read so far: %q)", within, got.String())
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read: %v", err)
		}
		return got.String()
	}
}

// TestSlowBodyIsCutOff: a client that sends its headers and then a body byte by byte is cut
// off by the read deadline, on foyer's own paths and on protected ones; a body announced too
// large is refused at once with 413, without waiting for it (issue 12: such connections never
// timed out and took every file descriptor).
func TestSlowBodyIsCutOff(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: func(c *Config) {
		c.Limits.ReadHeaderTimeout = 500 * time.Millisecond
		c.Limits.ReadTimeout = time.Second
	}})
	addr := edgeServer(t, h)
	cases := []struct {
		name, path string
		length     int
		want       string // in the answer, if one is expected
	}{
		{"join, body within the bound", "/foyer/v1/rooms/" + testRoom + "/join", 8000, ""},
		{"join, body announced too large", "/foyer/v1/rooms/" + testRoom + "/join", 200000, "413"},
		{"release", "/foyer/v1/rooms/" + testRoom + "/release", 8000, ""},
		{"protected path", "/book/seat", 8000, ""},
		{"protected path, too large", "/book/seat", 20 << 20, "413"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.1", addr)
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", tc.path, tc.length)
			stop := make(chan struct{})
			defer close(stop)
			go func() { // a byte every 100 ms, for far longer than the deadline
				for range 400 {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}()
			got := closedByServer(t, c, 30*time.Second)
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("answer %q, want %s", got, tc.want)
			}
		})
	}
}

// TestIdleConnectionIsClosed: a connection that never sends a request is closed by the header
// deadline, and a kept-alive one by the idle deadline.
func TestIdleConnectionIsClosed(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: func(c *Config) {
		c.Limits.ReadHeaderTimeout = 500 * time.Millisecond
		c.Limits.IdleTimeout = 500 * time.Millisecond
	}})
	addr := edgeServer(t, h)
	silent := dialFrom(t, "127.0.0.1", addr)
	closedByServer(t, silent, 30*time.Second)

	kept := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprintf(kept, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(kept), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	closedByServer(t, kept, 30*time.Second)
}

// busyAnswer reads the refusal a bounded listener writes.
func busyAnswer(t *testing.T, c net.Conn) {
	t.Helper()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("refused connection: no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"busy"`) {
		t.Fatalf("refused connection: %d %v %s, want 503 busy with Retry-After", resp.StatusCode, resp.Header, body)
	}
}

// healthz asserts that a GET /healthz on a new connection from `from` answers 200.
func healthz(t *testing.T, from, addr string) {
	t.Helper()
	c := dialFrom(t, from, addr)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz from %s while bound: %v %v", from, resp, err)
	}
}

// silentConns opens n connections from `from` that send nothing (they stay "new": nothing to
// reclaim), and waits until the server has counted them.
func silentConns(t *testing.T, h *harness, from, addr string, n int) {
	t.Helper()
	before := h.gw.conns.open()
	for range n {
		dialFrom(t, from, addr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.gw.conns.open() < before+n {
		if time.Now().After(deadline) {
			t.Fatalf("server counted %d connections, want %d", h.gw.conns.open(), before+n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnBoundPerAddress: an address at its bound has its next connection refused with a
// 503 busy, while another address, and health checks, still get in.
func TestConnBoundPerAddress(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: func(c *Config) {
		c.Limits.MaxConnsPerIP = 3
		c.Limits.ReadHeaderTimeout = time.Minute // the silent connections stay for the test
		c.Limits.ReadTimeout = time.Minute
	}})
	addr := edgeServer(t, h)
	silentConns(t, h, "127.0.0.2", addr, 3)
	busyAnswer(t, dialFrom(t, "127.0.0.2", addr))
	if got := counterValue(h.gw.conns.refused.WithLabelValues("per_address")); got != 1 {
		t.Fatalf("foyer_http_connections_refused_total{reason=per_address} = %v, want 1", got)
	}
	healthz(t, "127.0.0.3", addr)
	healthz(t, "127.0.0.1", addr)
}

// TestConnBoundReclaimsIdle: at its bound, an address's idle keep-alive connection is closed
// to make room, so many visitors behind one NAT are not refused for idle connections.
func TestConnBoundReclaimsIdle(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: func(c *Config) { c.Limits.MaxConnsPerIP = 2 }})
	addr := edgeServer(t, h)
	var idle []net.Conn
	for range 2 {
		c := dialFrom(t, "127.0.0.2", addr)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		idle = append(idle, c)
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.gw.conns.idleCount() < 2 { // the server marks them idle just after answering
		if time.Now().After(deadline) {
			t.Fatal("the kept-alive connections never became idle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	healthz(t, "127.0.0.2", addr)
	// the oldest idle one goes: whichever the server marked idle first (under load the second
	// answer may be marked before the first)
	closed := make(chan int, 2)
	for i, c := range idle {
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.Copy(io.Discard, c); err == nil || errors.Is(err, syscall.ECONNRESET) {
				closed <- i
			}
		}()
	}
	select {
	case <-closed:
	case <-time.After(31 * time.Second):
		t.Fatal("the server kept both idle connections open for 30s")
	}
	if got := counterValue(h.gw.conns.reclaimed); got != 1 {
		t.Fatalf("reclaimed = %v, want 1", got)
	}
}

// TestConnBoundTotal: at the total bound an address holding many connections is refused,
// while a health checker holding none gets in from the reserve, and a visitor's idle
// keep-alive connection is not closed to make room for the address that holds many.
func TestConnBoundTotal(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: func(c *Config) {
		c.Limits.MaxConns = 4
		c.Limits.MaxConnsPerIP = 0
		c.Limits.ReadHeaderTimeout = time.Minute
		c.Limits.ReadTimeout = time.Minute
	}})
	addr := edgeServer(t, h)
	kept := dialFrom(t, "127.0.0.4", addr)
	fmt.Fprintf(kept, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(kept)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	silentConns(t, h, "127.0.0.2", addr, 3)
	busyAnswer(t, dialFrom(t, "127.0.0.2", addr))
	fmt.Fprintf(kept, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") // still open
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the visitor's kept-alive connection: %v %v", resp, err)
	}
	if got := counterValue(h.gw.conns.refused.WithLabelValues("total")); got != 1 {
		t.Fatalf("foyer_http_connections_refused_total{reason=total} = %v, want 1", got)
	}
	healthz(t, "127.0.0.3", addr)
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestChunkedBodyOverTheBound: a body without Content-Length (chunked) is bounded too, and the
// admin API answers it 413 like an announced one (not 400 "could not read the body").
func TestChunkedBodyOverTheBound(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	big := `{"rate_per_minute": 60, "x": "` + strings.Repeat("a", 64<<10) + `"}`
	req, _ := http.NewRequest(http.MethodPatch, h.srv.URL+"/foyer/admin/v1/rooms/"+testRoom,
		io.MultiReader(strings.NewReader(big))) // length unknown: sent chunked
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(b) != "too_large" {
		t.Fatalf("PATCH with a chunked body of %d bytes: %d %s, want 413 too_large", len(big), resp.StatusCode, b)
	}
}
