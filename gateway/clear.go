package gateway

import (
	"math"
	"time"

	"github.com/foyerhq/foyer/queue"
)

// clearView is when a room's line clears and which limit decides it, as the admin API shows
// it; the estimate is queue.Engine.Clearance's (the queue owns it, as it owns the visitors'
// ETAs).
type clearView struct {
	// Seconds is how long the current line takes to go in (0: nobody waits, or it does not
	// move: see Limit).
	Seconds int64 `json:"seconds"`
	// Limit is what bounds the pace: rate, cap (sessions end too slowly for the rate), paused,
	// stalled (cap full, no session ending), closed; "" when nobody waits.
	Limit string `json:"limit"`
	// PerMinute is the pace assumed: min(rate, cap turnover).
	PerMinute     float64 `json:"per_minute"`
	RatePerMinute int     `json:"rate_per_minute"`
	// CapPerMinute is max_active per mean session (null when sessions have no length).
	CapPerMinute *float64 `json:"cap_per_minute"`
	// SessionSeconds is the session length assumed: measured from the sessions that ended
	// (SessionMeasured) or the configured one.
	SessionSeconds  float64 `json:"session_seconds"`
	SessionMeasured bool    `json:"session_measured"`
	// MeasuredPerMinute is the admissions over the last minute (null until 5 s of data).
	MeasuredPerMinute *float64 `json:"measured_per_minute"`
}

// clearView asks the queue when the room's line clears; before the room is cached it falls
// back to waiting / rate, said to be bounded by the rate.
func (s *Server) clearView(name string, waiting int64, st queue.Settings) (int64, clearView) {
	c, ok := s.engine.Clearance(name)
	if !ok {
		v := clearView{RatePerMinute: st.RatePerMinute, SessionSeconds: st.Session.Seconds()}
		if waiting > 0 && st.RatePerMinute > 0 {
			v.Limit, v.PerMinute = string(queue.LimitRate), float64(st.RatePerMinute)
			v.Seconds = waiting * 60 / int64(st.RatePerMinute)
		}
		return v.Seconds, v
	}
	v := clearView{Seconds: int64(c.In / time.Second), Limit: string(c.Limit), PerMinute: round1(c.PerMinute),
		RatePerMinute: c.RatePerMinute, SessionSeconds: round1(c.Session.Seconds()), SessionMeasured: c.SessionMeasured}
	if !math.IsInf(c.CapPerMinute, 0) {
		x := round1(c.CapPerMinute)
		v.CapPerMinute = &x
	}
	if c.Measured {
		x := round1(c.MeasuredPerMinute)
		v.MeasuredPerMinute = &x
	}
	return v.Seconds, v
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
