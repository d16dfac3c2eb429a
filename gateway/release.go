package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
)

type releaseBody struct {
	Outcome string `json:"outcome"`
	// Remaining is the stock the backend says is left (optional; 0: sold out), see soldout.go.
	// Only the booking backend (Foyer-Backend-Key) may report it.
	Remaining *int64 `json:"remaining"`
}

// handleRelease: POST /foyer/v1/rooms/{room}/release with the admission token as bearer.
func (s *Server) handleRelease(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	r := c.Request()
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		tok = cookieValue(r, admission.CookieNameFor(rm.cfg.Name))
	}
	if tok == "" {
		return httpError(http.StatusUnauthorized, "no_token", "send the admission token as Authorization: Bearer <token>")
	}
	claims, err := s.verifier.Verify(tok, rm.cfg.Name, s.now())
	if err != nil {
		return &Error{Status: http.StatusUnauthorized, Code: "bad_token", Message: "the admission token was refused: " + admission.ErrorCode(err)}
	}
	// Honest outcomes: the outcome is required (no body is a 400, not "abandoned"); only a
	// booking backend (Foyer-Backend-Key) may say booked or failed; without it, only the
	// visitor the token is bound to may give up its own slot.
	var body releaseBody
	dec := json.NewDecoder(io.LimitReader(r.Body, s.cfg.Limits.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || !admission.Outcome(body.Outcome).Valid() {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "the body must be {\"outcome\":\"booked|abandoned|failed\"}",
			Fields: map[string]string{"outcome": "must be booked, abandoned or failed"}}
	}
	out := queue.Outcome(body.Outcome)
	backend, err := s.backendRelease(rm, r)
	if err != nil {
		return err
	}
	if !backend {
		if out != queue.OutcomeAbandoned {
			return httpError(http.StatusForbidden, "backend_only", "only the booking backend may report booked or failed (Foyer-Backend-Key)")
		}
		if !claims.Confirms(visitorSecret(r)) {
			return httpError(http.StatusForbidden, "visitor_mismatch", "only the visitor this admission belongs to may give it up")
		}
	}
	if body.Remaining != nil {
		if !backend {
			return httpError(http.StatusForbidden, "backend_only", "only the booking backend may report the stock left (Foyer-Backend-Key)")
		}
		if err := s.reportStock(r.Context(), rm, body.Remaining); err != nil {
			return err
		}
	}
	if queue.IsUnbacked(claims.JTI) { // admitted while the store was down: nothing to free
		return c.NoContent(http.StatusNoContent)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*s.cfg.Redis.Timeout)
	defer cancel()
	if err := s.engine.Release(ctx, rm.cfg.Name, claims.JTI, out); err != nil {
		if errors.Is(err, queue.ErrUnknownLease) {
			return c.NoContent(http.StatusNoContent) // already released or expired: the slot is free
		}
		return s.storeErr("release", err)
	}
	if cookieValue(r, admission.CookieNameFor(rm.cfg.Name)) == tok {
		s.clearCookie(c.Response(), admission.CookieNameFor(rm.cfg.Name))
	}
	return c.NoContent(http.StatusNoContent)
}
