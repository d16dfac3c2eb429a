package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
)

// ticketFrom reads the visitor's ticket for rm from the Foyer-Ticket header or the room's
// ticket cookie. A ticket of another visitor (cookie mismatch) does not count.
func (s *Server) ticketFrom(r *http.Request, rm *room, visitor string) (queue.Ticket, string, bool) {
	raw := r.Header.Get(ticketHeader)
	if raw == "" || len(raw) > maxCookieValue {
		raw = cookieValue(r, ticketPrefix+rm.cfg.Name)
	}
	if raw == "" {
		return queue.Ticket{}, "", false
	}
	t, err := s.engine.DecodeTicket(rm.cfg.Name, raw)
	if err != nil {
		return queue.Ticket{}, "", false
	}
	if visitor == "" || t.Visitor != visitor { // no visitor secret, no ticket: a ticket alone is not a place
		return queue.Ticket{}, "", false
	}
	return t, raw, true
}

// ensureVisitor returns the visitor id, setting a new secret cookie when the request carries
// no secret (the new secret is kept in c for the claim's cnf).
func (s *Server) ensureVisitor(c echo.Context) string {
	if v := visitorFrom(c.Request()); v != "" {
		return v
	}
	secret := newVisitorID()
	s.setCookie(c.Response(), admission.VisitorCookieName, secret, 30*24*time.Hour)
	c.Set(newSecretKey, secret)
	return visitorID(secret)
}

// newSecretKey holds, in the echo context, a visitor secret set in this very response.
const newSecretKey = "foyer.new_visitor_secret"

// confirmation is the cnf of the token a claim issues: the token-mode site's bind value when
// the visitor came with one, else the commitment of the visitor's secret.
func confirmation(c echo.Context, dest destination) string {
	if dest.bind != "" {
		return dest.bind
	}
	secret := visitorSecret(c.Request())
	if s, ok := c.Get(newSecretKey).(string); ok && secret == "" {
		secret = s
	}
	return admission.Commitment(secret)
}

// join takes a ticket for the visitor (rate limited per client) and sets the ticket cookie.
func (s *Server) join(c echo.Context, rm *room, visitor string) (queue.Ticket, string, error) {
	// Per-address limit and proof-of-work (pow.go): 429 in mode off, else 428 pow_required
	// with a challenge whose difficulty grows with the address's or the room's pressure. The
	// address is counted fleet-wide, and a proof spent fleet-wide, inside the join call.
	opt, err := s.checkJoinPoW(c, rm, visitor)
	if err != nil {
		s.obs.joinRefused(rm.cfg.Name, err)
		return queue.Ticket{}, "", err
	}
	// A join may wait for the coalesced call ahead of it and then for its own (each up to twice
	// the Redis timeout): a slow store makes a slower join, not an error.
	ctx, cancel := context.WithTimeout(c.Request().Context(), 4*s.cfg.Redis.Timeout)
	defer cancel()
	t, raw, info, err := s.engine.JoinWith(ctx, rm.cfg.Name, visitor, opt)
	if err = s.afterJoin(rm, visitor, opt, info, err); err != nil {
		if e := (*Error)(nil); !errors.As(err, &e) {
			err = s.storeErrIn(rm, "join", err)
		}
		s.obs.joinRefused(rm.cfg.Name, err)
		return t, "", err
	}
	s.m.join(rm.cfg.Name)
	s.pow.observeTicket(rm.cfg.Name, t.Number, s.now()) // the room's pressure, fleet-wide (pow.go)
	s.setCookie(c.Response(), ticketPrefix+rm.cfg.Name, raw, 7*24*time.Hour)
	return t, raw, nil
}

// handleJoin: POST /foyer/v1/rooms/{room}/join. Idempotent for a visitor who already holds a
// ticket for the room (refresh, second tab): they keep it.
func (s *Server) handleJoin(c echo.Context) error {
	rm, err := s.roomOf(c)
	if err != nil {
		return err
	}
	dest, err := s.destinationFrom(c.Request(), rm)
	if err != nil {
		return err
	}
	b, _, err := s.enter(c, rm, s.ensureVisitor(c), dest)
	if err != nil {
		return err
	}
	return writeStatus(c, &b)
}

// roomOf is roomParam with a map lookup first: a configured room needs no name check, and
// roomParam explains anything else.
func (s *Server) roomOf(c echo.Context) (*room, error) {
	if rm, ok := s.roomSet().rooms[c.Param("room")]; ok {
		return rm, nil
	}
	return s.roomParam(c)
}
