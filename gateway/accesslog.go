package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/labstack/echo/v4"
)

const requestIDHeader = "X-Request-Id"

// requestID returns the request's id (set by requestLog on the response's X-Request-Id: no
// per-request map for echo's context store).
func requestID(c echo.Context) string {
	return c.Response().Header().Get(requestIDHeader)
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLog gives every request an id (kept from a sane incoming X-Request-Id) and writes one
// access log line. It never logs cookies, tokens, query strings or Authorization headers.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get(requestIDHeader)
		if len(id) == 0 || len(id) > 64 || !printableASCII(id) {
			id = newRequestID()
		}
		c.Response().Header()[requestIDHeader] = []string{id} // canonical already
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		route := c.Path()
		if route == "/*" {
			route = "protected"
		}
		s.m.request(route, status)
		if ev := s.log.WithLevel(logLevelFor(status)); ev.Enabled() {
			ev.Str("request_id", id).
				Str("method", c.Request().Method).
				Str("path", c.Request().URL.Path).
				Int("status", status).
				Float64("latency_ms", float64(time.Since(start).Microseconds())/1000).
				Str("remote_ip", c.RealIP()).
				Msg("request")
		}
		return nil
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
