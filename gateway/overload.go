package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/foyerhq/foyer/queue"
)

// Overload: when Redis or this process is slow rather than down, a visitor gets a slower
// answer, or a 503 `busy` with Retry-After that the queue page waits out quietly, never the
// "reconnecting" meant for a store that is gone. Slow and gone are told apart by the engine:
// a call that timed out while the room's figures were refreshed lately met a slow store.

// busyRetryAfterSecs is the Retry-After of a shed request.
const busyRetryAfterSecs = 2

// newShedCounter counts requests shed as busy, by operation.
func newShedCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_shed_total",
		Help: "Requests answered 503 busy because Redis or the gateway was too slow to answer in time, by operation."},
		[]string{"op"})
	reg.MustRegister(c)
	return c
}

// errBusy is the answer to a shed request.
func errBusy(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "busy",
		Message: "the waiting room is very busy; trying again in a moment, your place is kept", RetryAfter: busyRetryAfterSecs,
		Cause: cause}
}

// isTimeout says whether err is a deadline that expired (the context's or the socket's).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// overloaded says whether err means "too slow" rather than "gone": the engine shed the call,
// or it timed out while Redis is still answering for the room.
func (s *Server) overloaded(room string, err error) bool {
	return errors.Is(err, queue.ErrBusy) || (isTimeout(err) && s.engine.Answering(room))
}

// storeErrIn is storeErr for a call on room: an overload is answered busy, counted by op.
func (s *Server) storeErrIn(rm *room, op string, err error) error {
	if s.overloaded(rm.cfg.Name, err) {
		s.shed.WithLabelValues(op).Inc()
		return errBusy(err)
	}
	return s.storeErr(op, err)
}
