package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/admission"
)

// proxyTransport is shared by every room: bounded dials and header waits so a stuck backend
// costs a timeout, not a hung gateway.
var proxyTransport = &http.Transport{
	Proxy:                 nil,
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:          1024,
	MaxIdleConnsPerHost:   256,
	IdleConnTimeout:       90 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
	ExpectContinueTimeout: time.Second,
	ForceAttemptHTTP2:     false,
}

type ctxKey int

const claimsKey ctxKey = iota

// newProxy builds the room's reverse proxy: X-Forwarded-* set, hop-by-hop headers removed
// (httputil does both), WebSocket upgrades passed through, foyer's own cookies and the admission
// header kept away from the backend, latency and status classes recorded, and a friendly page
// when the backend is down.
func (s *Server) newProxy(rm *room) *httputil.ReverseProxy {
	target := rm.backend
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			pr.Out.Header.Del(admission.HeaderName)
			stripFoyerCookies(pr.Out, rm.cfg.Name)
			if cl, ok := pr.In.Context().Value(claimsKey).(admission.Claims); ok {
				// the backend may trust these only behind foyer; the token itself is in the cookie
				pr.Out.Header.Set("Foyer-Visitor", cl.Visitor)
				pr.Out.Header.Set("Foyer-Lease", cl.JTI)
			}
		},
		Transport:     proxyTransport,
		FlushInterval: -1, // stream: server-sent events and long bodies pass as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				w.WriteHeader(499)
				return
			}
			s.log.Warn().Err(err).Str("room", rm.cfg.Name).Str("path", r.URL.Path).Msg("backend unreachable")
			status := http.StatusBadGateway
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				status = http.StatusGatewayTimeout
			}
			s.writeBackendDown(w, r, rm, status)
		},
	}
}

// proxyDeadlines replaces the server's deadlines, made for foyer's own small requests, with
// the backend's: limits.body_timeout to read the body, limits.proxy_write_timeout to write the
// answer. A WebSocket upgrade is left unbounded (the hijacked connection keeps the deadlines
// it has, so they are cleared).
func (s *Server) proxyDeadlines(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	now := time.Now()
	if r.Header.Get("Upgrade") != "" {
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		_ = rc.SetReadDeadline(now.Add(s.cfg.Limits.BodyTimeout))
	}
	wd := time.Time{}
	if d := s.cfg.Limits.ProxyWriteTimeout; d > 0 {
		wd = now.Add(d)
	}
	_ = rc.SetWriteDeadline(wd)
}

// stripFoyerCookies keeps the admission token in the request (the backend may verify it) but
// removes the visitor's ticket cookies, which are foyer's business only.
func stripFoyerCookies(r *http.Request, _ string) {
	cs := r.Cookies()
	if len(cs) == 0 {
		return
	}
	r.Header.Del("Cookie")
	for _, c := range cs {
		if len(c.Name) > len(ticketPrefix) && c.Name[:len(ticketPrefix)] == ticketPrefix {
			continue
		}
		r.AddCookie(c)
	}
}

// statusRecorder captures the backend's status for metrics while passing writes through
// (Flush and Hijack included, for streaming and WebSockets).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// proxyTo passes an admitted request to the room's backend.
func (s *Server) proxyTo(c echo.Context, rm *room, claims admission.Claims) error {
	s.inflight.Add(1)
	defer s.inflight.Done()
	r := c.Request()
	s.proxyDeadlines(c.Response().Writer, r)
	r = r.WithContext(context.WithValue(r.Context(), claimsKey, claims))
	rec := &statusRecorder{ResponseWriter: c.Response().Writer}
	start := time.Now()
	rm.proxy.ServeHTTP(rec, r)
	lat := time.Since(start)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	c.Response().Status = status
	c.Response().Committed = true
	class := statusClass(status)
	if status == http.StatusBadGateway || status == http.StatusGatewayTimeout || status == 499 {
		class = "error"
	}
	failed := status >= 500
	if status != http.StatusSwitchingProtocols {
		rm.window.observe(s.now(), lat, failed)
		s.m.backendLat.WithLabelValues(rm.cfg.Name).Observe(lat.Seconds())
	}
	s.observe(rm, claims, r.URL.Path, status, rec.Header()) // outcomes.go: the outcome ledger
	s.m.backendResp.WithLabelValues(rm.cfg.Name, class).Inc()
	s.m.proxied.WithLabelValues(rm.cfg.Name).Inc()
	return nil
}
