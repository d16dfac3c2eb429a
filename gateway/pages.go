package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/web"
)

func (rm *room) theme() web.Theme {
	t := rm.cfg.Theme
	return web.Theme{LogoURL: t.LogoURL, Accent: t.Primary, Background: t.Background, Text: t.Text}
}

// renderQueuePage serves the queue page in place, already showing the visitor's status.
func (s *Server) renderQueuePage(c echo.Context, rm *room, b statusBody, dest destination) error {
	r := c.Request()
	st := web.Status{
		State:        b.State,
		JoinedPlace:  b.JoinedPlace,
		PollAfter:    time.Duration(b.PollAfterMS) * time.Millisecond,
		Admitted:     b.Admitted,
		Redirect:     b.Redirect,
		Reconnecting: b.Reconnecting,
		UpdatedAt:    s.now(),
		Position:     b.Position,
		Stalled:      b.Stalled,
		Returning:    b.Returning,
		Notice:       b.Notice,
		Reentry:      b.Reentry,
		// issue 14
		PrequeueNumber: b.PrequeueNumber,
		AskFeedback:    b.AskFeedback,
	}
	if b.Place != nil {
		st.Place = *b.Place
	}
	if b.Ahead != nil {
		st.Ahead = *b.Ahead
	}
	if b.ETA != nil {
		st.ETALow, st.ETAHigh = time.Duration(b.ETA.Low)*time.Second, time.Duration(b.ETA.High)*time.Second
	}
	if b.OpensAt != nil {
		st.OpensAt, _ = time.Parse(time.RFC3339, *b.OpensAt)
	}
	statusURL := s.cfg.Prefix + "/v1/rooms/" + rm.cfg.Name + "/status"
	joinURL := s.cfg.Prefix + "/v1/rooms/" + rm.cfg.Name + "/join"
	if q := destQuery(dest); q != "" {
		statusURL += "?" + q
		joinURL += "?" + q
	}
	d := web.QueuePageData{
		Room:         rm.cfg.Name,
		DisplayName:  rm.cfg.DisplayName,
		DisplayNames: rm.cfg.DisplayNames,
		Texts:        rm.cfg.Texts,
		Lang:         web.RequestLang(r),
		TimeZone:     rm.cfg.TimeZone,
		Prefix:       s.cfg.Prefix,
		HasTicket:    b.Ticket != "", // no ticket yet (a proof-of-work to solve first): the script joins
		Status:       st,
		StatusURL:    statusURL,
		JoinURL:      joinURL,
		Theme:        rm.theme(),
		Now:          s.now(),
	}
	code := rm.cfg.WaitingStatus
	if r.URL.Path == s.cfg.Prefix+"/rooms/"+rm.cfg.Name {
		code = http.StatusOK
	}
	c.Response().Header().Set("Vary", "Accept, Cookie, Accept-Language")
	if r.Method == http.MethodHead {
		return c.NoContent(code)
	}
	return s.site.ServeQueuePage(c.Response(), code, d)
}

func destQuery(d destination) string {
	v := make(map[string][]string)
	if d.returnURL != "" {
		v["return"] = []string{d.returnURL}
	}
	if d.next != "" {
		v["next"] = []string{d.next}
	}
	if d.bind != "" {
		v["bind"] = []string{d.bind}
	}
	if len(v) == 0 {
		return ""
	}
	return url.Values(v).Encode()
}

// renderErrorPage is the browser form of an *Error.
func (s *Server) renderErrorPage(c echo.Context, e *Error) {
	r := c.Request()
	code := e.Code
	switch {
	case e.Status == http.StatusTooManyRequests:
		code = "rate_limited"
	case e.Code == "reconnecting":
		code = "unavailable"
	case e.Status == http.StatusNotFound:
		code = "not_found"
	case code == "backend_unavailable":
	case e.Status >= 500:
		code = "internal"
	case e.Status >= 400:
		code = "bad_request"
	}
	d := web.ErrorPageData{Lang: web.RequestLang(r), Status: e.Status, Code: code, Prefix: s.cfg.Prefix,
		RequestID: requestID(c), RetryAfter: time.Duration(e.RetryAfter) * time.Second}
	if rm := s.match(r.URL.Path); rm != nil {
		d.DisplayName, d.DisplayNames, d.Theme = rm.cfg.DisplayName, rm.cfg.DisplayNames, rm.theme()
	}
	if err := s.site.ServeErrorPage(c.Response(), e.Status, d); err != nil {
		s.log.Error().Err(err).Msg("error page failed")
	}
}

// writeBackendDown answers for a backend that is down or too slow: a friendly page for
// browsers, JSON otherwise.
func (s *Server) writeBackendDown(w http.ResponseWriter, r *http.Request, rm *room, status int) {
	if wantsHTML(r) {
		d := web.ErrorPageData{Lang: web.RequestLang(r), Status: status, Code: "backend_unavailable", Prefix: s.cfg.Prefix,
			DisplayName: rm.cfg.DisplayName, DisplayNames: rm.cfg.DisplayNames, Theme: rm.theme(), RetryAfter: 10 * time.Second}
		if err := s.site.ServeErrorPage(w, status, d); err == nil {
			return
		}
	}
	s.errorHandler(&Error{Status: status, Code: "backend_unavailable", RetryAfter: 10,
		Message: "the booking site is not answering; your admission is still valid, try again in a moment"}, s.e.NewContext(r, w))
}

// handleDashboard serves the organisers' dashboard shell; its data comes from the admin API.
func (s *Server) handleDashboard(c echo.Context) error {
	d := web.DashboardData{Lang: web.RequestLang(c.Request()), Prefix: s.cfg.Prefix, APIBase: s.cfg.Prefix + "/admin/v1",
		Gzip: acceptsGzip(c.Request().Header.Get("Accept-Encoding"))}
	return s.site.ServeDashboard(c.Response(), d)
}

// acceptsGzip says whether an Accept-Encoding header allows gzip: named (or *) without q=0.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return !strings.HasPrefix(q, "q=0") || strings.Trim(strings.TrimPrefix(q, "q=0"), ".0") != ""
	}
	return false
}
