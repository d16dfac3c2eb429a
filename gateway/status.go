package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
)

// admittedAs is what statusFor learned when the visitor was admitted.
type admittedAs struct {
	claims admission.Claims
	token  string
}

// placeHeader carries the lowest place the visitor was shown (the page and apps send it back),
// so a replica whose cache is a step behind never shows a higher one.
const placeHeader = "Foyer-Place"

// statusFor asks the queue for the visitor's decision (one call: status, and the lease when it
// is their turn) and writes it: the gateway's part is only to sign the admission token and set
// the admission cookie.
func (s *Server) statusFor(c echo.Context, rm *room, t queue.Ticket, dest destination) (statusBody, *admittedAs, error) {
	now := s.now()
	r := c.Request()
	var opt queue.PollOptions
	if h := r.Header.Get(placeHeader); h != "" && len(h) <= 12 {
		opt.BestPlace, _ = strconv.ParseInt(h, 10, 64)
	}
	d, err := s.engine.Poll(r.Context(), t, opt)
	if err != nil {
		return statusBody{}, nil, s.storeErr("status", err)
	}
	s.m.poll(rm.cfg.Name)
	b := statusBody{
		Room:         rm.cfg.Name,
		State:        string(d.State),
		UpdatedAt:    s.clockText(now),
		Reconnecting: d.StoreDown,
		Position:     d.Position,
		PollAfterMS:  d.PollAfter.Milliseconds(),
		Stalled:      string(d.Stalled),
		Returning:    d.Returning,
		Reentry:      d.Reentry,
	}
	if t.Prequeue {
		b.PrequeueNumber = t.Number // the visitor checks their shuffled place with it (fairness.go)
	}
	if d.PlaceRose {
		b.Notice = "place_rose"
	}
	if d.StoreDown {
		s.m.redisErrors.WithLabelValues("status").Inc()
	}
	if !d.OpensAt.IsZero() {
		o := d.OpensAt.In(rm.loc).Format(time.RFC3339)
		b.OpensAt = &o
	}
	if (d.State == queue.StateOpen || d.State == queue.StatePaused) && d.Position > 0 {
		place, ahead := d.Place, d.Ahead
		b.Place, b.Ahead = &place, &ahead
		if d.StockLow {
			rem := d.Remaining
			b.Remaining = &rem
		}
		if d.Stalled == queue.StallNone {
			b.ETA = &etaBody{Low: int64(d.ETALow / time.Second), High: int64(d.ETAHigh / time.Second)}
		}
	}
	if d.ClaimTook > 0 {
		result := "not_yet"
		if d.Lease != nil {
			result = "ok"
			s.m.claimLatency.WithLabelValues(rm.cfg.Name).Observe(d.ClaimTook.Seconds())
		}
		s.m.claims.WithLabelValues(rm.cfg.Name, result).Inc()
	}
	if d.Lease == nil {
		return b, nil, nil
	}
	adm, err := s.admit(rm, d.Lease, confirmation(c, dest), now)
	if err != nil {
		return b, nil, internalError(err)
	}
	zero := int64(0)
	b.Admitted, b.Token, b.Redirect = true, adm.token, dest.redirect(rm, adm.token)
	b.Place, b.Ahead, b.ETA, b.PollAfterMS = &zero, &zero, &etaBody{}, 0
	s.setCookie(c.Response(), admission.CookieNameFor(rm.cfg.Name), adm.token, time.Until(adm.claims.ExpiresAt)+time.Minute)
	return b, adm, nil
}

// admit signs the admission token for a lease the queue granted, bound to the visitor's
// secret by its commitment cnf.
func (s *Server) admit(rm *room, l *queue.Lease, cnf string, now time.Time) (*admittedAs, error) {
	cl := admission.Claims{Room: rm.cfg.Name, Visitor: l.Visitor, Confirmation: cnf, JTI: l.JTI,
		IssuedAt: now, NotBefore: now, ExpiresAt: l.ExpiresAt}
	tok, err := s.issuer.Issue(cl)
	if err != nil {
		return nil, err
	}
	return &admittedAs{claims: cl, token: tok}, nil
}

// handleStatus: GET /foyer/v1/rooms/{room}/status. This is the hot path (every waiting visitor,
// every few seconds): see docs/benchmarks.md before adding work to it.
func (s *Server) handleStatus(c echo.Context) error {
	rm, err := s.roomOf(c)
	if err != nil {
		return err
	}
	dest, err := s.destinationFrom(c.Request(), rm)
	if err != nil {
		return err
	}
	t, _, ok := s.ticketFrom(c.Request(), rm, visitorFrom(c.Request()))
	if !ok {
		return httpError(http.StatusNotFound, "no_ticket", "you have no ticket for this room yet; join first")
	}
	b, _, err := s.statusFor(c, rm, t, dest)
	if err != nil {
		return err
	}
	return writeStatus(c, &b)
}
