package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/web"
)

// Visitor feedback (issue 14): after their session ends or the room closes, the queue page asks
// for a one-tap rating and an optional comment. Bounded (queue.FeedbackMaxComment characters,
// a 4 KiB body), once per visitor per room (the visitor's secret and a valid ticket for the
// room bind it), and limited per address (feedbackPerMinute, burst feedbackBurst, per replica).

const (
	feedbackPerMinute = 30
	feedbackBurst     = 20
	feedbackMaxBody   = 4096
)

type feedbackRequest struct {
	Rating  int    `json:"rating"`
	Comment string `json:"comment"`
}

// handleFeedback: POST /foyer/v1/rooms/{room}/feedback, {"rating":1-5,"comment":"..."}: 204.
func (s *Server) handleFeedback(c echo.Context) error {
	rm, err := s.roomOf(c)
	if err != nil {
		return err
	}
	r := c.Request()
	if ok, wait := s.feedbackLimit.allow(clientKey(c.RealIP()), s.now()); !ok {
		return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many answers from your network; try again in a moment",
			RetryAfter: int(wait/time.Second) + 1}
	}
	t, _, ok := s.ticketFrom(r, rm, visitorFrom(r))
	if !ok {
		return httpError(http.StatusForbidden, "no_ticket", "only visitors who were in this room's line can rate it")
	}
	var body feedbackRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, feedbackMaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: `the body must be {"rating":1-5,"comment":"..."}`}
	}
	err = s.engine.GiveFeedback(r.Context(), rm.cfg.Name, t.Visitor, body.Rating, body.Comment)
	var ve *queue.ValidationError
	switch {
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "the rating or the comment is not valid", Fields: ve.Fields}
	case errors.Is(err, queue.ErrFeedbackGiven):
		return httpError(http.StatusConflict, "feedback_given", "you have already rated this line; thank you")
	case errors.Is(err, queue.ErrFeedbackFull):
		return httpError(http.StatusConflict, "feedback_full", "this line has taken all the answers it can keep")
	case err != nil:
		return s.storeErr("feedback", err)
	}
	return c.NoContent(http.StatusNoContent)
}

type adminFeedbackBody struct {
	Room     string               `json:"room"`
	Total    int64                `json:"total"`
	Counts   map[string]int64     `json:"counts"`
	Comments int64                `json:"comments_total"`
	Newest   []adminFeedbackEntry `json:"comments"`
}

type adminFeedbackEntry struct {
	Rating  int    `json:"rating"`
	Comment string `json:"comment"`
	At      string `json:"at"`
}

// handleAdminFeedback: GET /foyer/admin/v1/rooms/{room}/feedback?limit=N: the ratings'
// distribution and the newest comments (default 100, at most queue.FeedbackKept).
func (s *Server) handleAdminFeedback(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > queue.FeedbackKept {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "limit must be 0 to " + strconv.Itoa(queue.FeedbackKept),
				Fields: map[string]string{"limit": "0 to " + strconv.Itoa(queue.FeedbackKept)}}
		}
		limit = n
	}
	fb, err := s.engine.Feedback(c.Request().Context(), rm.cfg.Name, limit)
	if err != nil {
		return s.storeErr("feedback", err)
	}
	out := adminFeedbackBody{Room: rm.cfg.Name, Total: fb.Total, Counts: map[string]int64{}, Comments: fb.Comments,
		Newest: []adminFeedbackEntry{}}
	for r := 1; r <= 5; r++ {
		out.Counts[strconv.Itoa(r)] = fb.Counts[r]
	}
	for _, e := range fb.Newest {
		out.Newest = append(out.Newest, adminFeedbackEntry{Rating: e.Rating, Comment: e.Comment, At: e.At.In(rm.loc).Format(time.RFC3339)})
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

// handleFeedbackPage: GET /foyer/v1/rooms/{room}/feedback: the feedback prompt as a page (a
// booking site may link it at the end of a booking; the queue page fetches its prompt).
func (s *Server) handleFeedbackPage(c echo.Context) error {
	rm, err := s.roomOf(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Vary", "Accept-Language, Cookie")
	return s.site.ServeFeedbackPage(c.Response(), web.FeedbackPageData{Lang: web.RequestLang(c.Request()), Room: rm.cfg.Name,
		DisplayName: rm.cfg.DisplayName, DisplayNames: rm.cfg.DisplayNames, Prefix: s.cfg.Prefix, Theme: rm.theme()})
}
