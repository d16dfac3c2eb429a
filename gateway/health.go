package gateway

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleHealthz: the process is up.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz: Redis answers and the scripts are loaded. A gateway that is not ready still
// serves waiting visitors their last known place, but a load balancer should prefer others.
func (s *Server) handleReadyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*s.cfg.Redis.Timeout)
	defer cancel()
	if err := s.engine.Ready(ctx); err != nil {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "store not ready"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
