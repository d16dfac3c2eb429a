package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// readyFor is how long one readiness answer is reused: a load balancer probing every replica
// several times a second costs Redis one check a second per replica.
const readyFor = time.Second

// readyCache holds the last readiness answer. The zero value is empty.
type readyCache struct {
	mu  sync.Mutex
	at  time.Time
	err error
	set bool
}

// check returns the cached answer while it is fresh, else asks probe (one caller at a time:
// probes that arrive meanwhile wait for its answer instead of sending their own).
func (c *readyCache) check(now time.Time, probe func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set && now.Sub(c.at) < readyFor && now.Sub(c.at) >= 0 {
		return c.err
	}
	c.err, c.at, c.set = probe(), now, true
	return c.err
}

// handleHealthz: the process is up.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz: Redis answers and the scripts are loaded (checked at most once a second). A
// gateway that is not ready still serves waiting visitors their last known place, but a load
// balancer should prefer others.
func (s *Server) handleReadyz(c echo.Context) error {
	err := s.ready.check(s.now(), func() error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*s.cfg.Redis.Timeout)
		defer cancel()
		return s.engine.Ready(ctx)
	})
	c.Response().Header().Set("Cache-Control", "no-store")
	if err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "store not ready"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
