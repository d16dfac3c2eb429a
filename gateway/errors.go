package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/foyerhq/foyer/queue"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// Error is an HTTP error with a client-facing code and message kept apart from the internal
// cause, which is only logged. Handlers return errors; errorHandler turns them into responses.
type Error struct {
	Status  int
	Code    string
	Message string
	// Fields names each bad input field (validation errors).
	Fields map[string]string
	// RetryAfter, in seconds, is sent as Retry-After when set.
	RetryAfter int
	// Cause is logged, never sent.
	Cause error
	// PoW is the proof-of-work challenge of a pow_required answer.
	PoW *powChallenge
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

func httpError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

func internalError(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "something went wrong on our side", Cause: cause}
}

type errorBody struct {
	Error errorDetail   `json:"error"`
	PoW   *powChallenge `json:"pow,omitempty"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// wantsHTML says whether the client is a browser asking for a page.
func wantsHTML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "text/html") && !strings.Contains(a, "application/json")
}

// errorHandler is the one place errors become responses: JSON for APIs, a page for browsers.
// 5xx causes are logged; nothing internal reaches the client.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var e *Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		code := strings.ToLower(strings.ReplaceAll(msg, " ", "_"))
		e = &Error{Status: he.Code, Code: code, Message: msg, Cause: he.Internal}
	default:
		e = internalError(err)
	}
	if e.Status >= 500 {
		s.log.Error().Err(e).Str("request_id", requestID(c)).Str("path", c.Request().URL.Path).Msg("request failed")
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	r := c.Request()
	if r.Method == http.MethodHead {
		_ = c.NoContent(e.Status)
		return
	}
	if wantsHTML(r) && s.site != nil {
		s.renderErrorPage(c, e)
		return
	}
	_ = c.JSON(e.Status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields}, PoW: e.PoW})
}

// logLevelFor maps a status to the access log level.
func logLevelFor(status int) zerolog.Level {
	switch {
	case status >= 500:
		return zerolog.ErrorLevel
	case status >= 400:
		return zerolog.InfoLevel
	default:
		return zerolog.DebugLevel
	}
}

// storeErr turns engine errors into client errors.
func (s *Server) storeErr(op string, err error) error {
	switch {
	case errors.Is(err, queue.ErrRoomClosed):
		return httpError(http.StatusGone, "room_closed", "this sale is closed")
	case errors.Is(err, queue.ErrRoomScheduled):
		return httpError(http.StatusConflict, "not_open_yet", "the line for this sale has not opened yet")
	case errors.Is(err, queue.ErrRoomPaused):
		return httpError(http.StatusServiceUnavailable, "room_paused", "admissions are paused; your place is kept")
	case errors.Is(err, queue.ErrTicketSpent), errors.Is(err, queue.ErrBadTicket), errors.Is(err, queue.ErrBeyondIssued):
		return &Error{Status: http.StatusGone, Code: "bad_ticket", Message: "this ticket can no longer be used; join the line again",
			Cause: err} // the cause tells a spent ticket (a session that ended) from a bad one
	case errors.Is(err, queue.ErrUnknownRoom):
		return httpError(http.StatusNotFound, "unknown_room", "there is no room with that name")
	case errors.Is(err, queue.ErrStoreUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.m.redisErrors.WithLabelValues(op).Inc()
		return &Error{Status: http.StatusServiceUnavailable, Code: "reconnecting",
			Message: "the waiting room is reconnecting; keep this page open, your place is kept", RetryAfter: 3, Cause: err}
	default:
		return internalError(err)
	}
}
