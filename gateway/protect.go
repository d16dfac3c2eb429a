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

// handleProtected serves every path that is not foyer's own: with a valid admission for the
// room it is proxied to the backend; without one the visitor is in the waiting room.
func (s *Server) handleProtected(c echo.Context) error {
	r := c.Request()
	rm, err := s.matchClean(r)
	if err != nil {
		return err
	}
	if rm == nil || rm.proxy == nil {
		return httpError(http.StatusNotFound, "not_found", "nothing here")
	}
	if claims, ok := s.admitted(c, rm); ok {
		return s.proxyTo(c, rm, claims)
	}
	return s.waitingRoom(c, rm, visitorFrom(r))
}

// admitted checks the admission token: signature, room, expiry, and that the request holds
// the secret the token is bound to (cnf; the visitor cookie, or Foyer-Visitor-Secret for
// apps), compared in constant time. While the visitor is active the session slides, up to the
// room's maximum.
func (s *Server) admitted(c echo.Context, rm *room) (admission.Claims, bool) {
	r := c.Request()
	tok := cookieValue(r, admission.CookieNameFor(rm.cfg.Name))
	if tok == "" {
		if h := r.Header.Get(admission.HeaderName); h != "" && len(h) <= maxCookieValue {
			tok = h
		}
	}
	if tok == "" {
		return admission.Claims{}, false
	}
	now := s.now()
	claims, err := s.verifier.Verify(tok, rm.cfg.Name, now)
	if err != nil {
		s.m.refused.WithLabelValues(rm.cfg.Name, admission.ErrorCode(err)).Inc()
		return admission.Claims{}, false
	}
	if !claims.Confirms(visitorSecret(r)) {
		s.m.refused.WithLabelValues(rm.cfg.Name, admission.ErrorCode(admission.ErrVisitorMismatch)).Inc()
		return admission.Claims{}, false
	}
	if left := claims.ExpiresAt.Sub(now); left < s.settings(rm).Session/2 && !queue.IsUnbacked(claims.JTI) {
		s.extend(c, rm, &claims, now)
	}
	return claims, true
}

// extend slides the session: once per half session, so it costs Redis rarely.
func (s *Server) extend(c echo.Context, rm *room, claims *admission.Claims, now time.Time) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.Redis.Timeout)
	defer cancel()
	lease, err := s.engine.Extend(ctx, rm.cfg.Name, claims.JTI, now)
	if err != nil {
		if !errors.Is(err, queue.ErrUnknownLease) {
			s.m.redisErrors.WithLabelValues("extend").Inc()
		}
		return // the current token stays valid until it expires
	}
	if !lease.ExpiresAt.After(claims.ExpiresAt) {
		return
	}
	nc := *claims
	nc.IssuedAt, nc.NotBefore, nc.ExpiresAt = now, now, lease.ExpiresAt
	tok, err := s.issuer.Issue(nc)
	if err != nil {
		return
	}
	*claims = nc
	s.setCookie(c.Response(), admission.CookieNameFor(rm.cfg.Name), tok, time.Until(nc.ExpiresAt)+time.Minute)
}

// waitingRoom answers a request without admission: it joins the visitor if needed and serves
// the queue page in place (or the status JSON). When there is no line and the room does not
// queue everyone, the visitor goes straight through, having taken a ticket, a slot of the pace
// and a lease like everybody else.
func (s *Server) waitingRoom(c echo.Context, rm *room, visitor string) error {
	r := c.Request()
	dest := destination{}
	if p, ok := localPath(r.URL.RequestURI()); ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		dest.next = p
	}
	if visitor == "" {
		visitor = s.ensureVisitor(c)
	}
	b, adm, err := s.enter(c, rm, visitor, dest)
	if err != nil {
		return s.powPage(c, rm, dest, err)
	}
	if adm != nil && !s.settings(rm).QueueAll {
		return s.proxyTo(c, rm, adm.claims)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept, Cookie")
	if !wantsHTML(r) {
		return c.JSON(rm.cfg.WaitingStatus, b)
	}
	return s.renderQueuePage(c, rm, b, dest)
}

// handleRoomPage: GET /foyer/rooms/{room}[?return=URL]: the queue page reached directly (token
// mode, or a link from the site). Joins the visitor if needed.
func (s *Server) handleRoomPage(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	dest, err := s.destinationFrom(c.Request(), rm)
	if err != nil {
		return err
	}
	if rm.cfg.Mode == "token" && dest.returnURL == "" {
		return httpError(http.StatusBadRequest, "bad_return_url", "this room needs a return URL: ?return=https://...")
	}
	b, _, err := s.enter(c, rm, s.ensureVisitor(c), dest)
	if err != nil {
		return s.powPage(c, rm, dest, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if !wantsHTML(c.Request()) {
		return c.JSON(http.StatusOK, b)
	}
	return s.renderQueuePage(c, rm, b, dest)
}

// enter is the one path by which a visitor gets into a room's line and learns their status:
// their ticket if they hold a valid one (refresh and second tabs keep their place), else a new
// one; a ticket that can no longer be used (its session ended, or its place lapsed) sends them
// to the back of the line. The ticket goes back in the body too, for apps without cookies.
func (s *Server) enter(c echo.Context, rm *room, visitor string, dest destination) (statusBody, *admittedAs, error) {
	t, raw, ok := s.ticketFrom(c.Request(), rm, visitor)
	ended := false
	if ok {
		b, adm, err := s.statusFor(c, rm, t, dest)
		var he *Error
		if err == nil {
			b.Ticket = raw
			return b, adm, nil
		}
		if !errors.As(err, &he) || he.Code != "bad_ticket" {
			return b, adm, err
		}
		ended = errors.Is(err, queue.ErrTicketSpent) // their session ended: the page asks how it went
	}
	t, raw, err := s.join(c, rm, visitor)
	if err != nil {
		return statusBody{}, nil, err
	}
	b, adm, err := s.statusFor(c, rm, t, dest)
	if err != nil {
		return b, adm, err
	}
	b.Ticket = raw
	b.AskFeedback = ended
	if b.Place != nil {
		b.JoinedPlace = *b.Place
	}
	return b, adm, nil
}

// matchClean finds the room of r's path after normalising it (admission.CleanPath: dot
// segments, encoded dots, ";" parameters, "//"), and rewrites r to the normalised path, so
// the backend is sent exactly the path whose room was checked. A path that normalisation moves
// out of the room its raw prefix names ("/a/../b/", "/a/%2e%2e/b/" with /a/ and /b/ in
// different rooms) is refused, not proxied: 400 bad_path.
func (s *Server) matchClean(r *http.Request) (*room, error) {
	clean, match, ok := admission.CleanPath(r.URL.Path)
	if !ok {
		return nil, httpError(http.StatusBadRequest, "bad_path", "this address is not valid")
	}
	rm := s.match(match)
	if clean == r.URL.Path {
		return rm, nil
	}
	if s.match(r.URL.Path) != rm {
		return nil, httpError(http.StatusBadRequest, "bad_path", "this address leaves the part of the site it names")
	}
	r.URL.Path, r.URL.RawPath = clean, ""
	return rm, nil
}
