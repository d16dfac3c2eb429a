package admission

import (
	"github.com/labstack/echo/v4"
)

// EchoMiddleware is Middleware for echo v4 servers, with the same configuration and
// behaviour; Skipper and RoomFunc receive c.Request(). Handlers read the claims with
// ClaimsFrom(c.Request().Context()).
func EchoMiddleware(cfg MiddlewareConfig) (echo.MiddlewareFunc, error) {
	g, err := newGuard(cfg)
	if err != nil {
		return nil, err
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r, ok := g.handle(c.Response(), c.Request())
			if !ok {
				return nil // refused or handed off; the response is written
			}
			c.SetRequest(r)
			return next(c)
		}
	}, nil
}
