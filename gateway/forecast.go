package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/queue"
)

// The crowd forecast and the outcomes over time (issue 14): both read the room's minute series
// in Redis (queue/minutes.go), which the first replica to get there records each minute, so
// every replica shows the same. The model is the queue's (queue/forecast.go); here it is only
// written out.

// recordMinute records the room's minute (at most one Redis call a minute, and one Flagged
// read when this replica is the first); a failure leaves a gap the readers spread over.
func (s *Server) recordMinute(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Redis.Timeout)
	defer cancel()
	if err := s.engine.RecordMinute(ctx, name, -1); err != nil {
		s.log.Debug().Err(err).Str("room", name).Msg("minute not recorded")
	}
}

type span struct {
	Low  int64 `json:"low"`
	High int64 `json:"high"`
}

// forecastModel says in words what the figures rest on; the dashboard shows it.
const forecastModel = "Pre-queue joins per minute projected to the opening flat (the last three minutes' mean) and along their trend (the last ten), the range spanning both, widened by two Poisson standard deviations; the opening spike assumed 0.5 to 1.5 times the pre-queue (an assumption from the festival's crowd, not a measurement); cleared at the room's rate, or the cap's turnover when that is lower; later arrivals and visitors who leave not counted."

type forecastJSON struct {
	Room           string    `json:"room"`
	Now            string    `json:"now"`
	OpensAt        string    `json:"opens_at,omitempty"`
	Opened         bool      `json:"opened"`
	Prequeue       int64     `json:"prequeue_size,omitempty"`
	Waiting        int64     `json:"waiting"`
	Joined         int64     `json:"joined"`
	JoinsPerMinute []float64 `json:"joins_per_minute"`
	Flat           float64   `json:"flat_per_minute"`
	Trend          float64   `json:"trend_per_minute_per_minute"`
	Basis          string    `json:"basis"`
	Arrivals       span      `json:"arrivals_before_opening"`
	PrequeueAt     span      `json:"prequeue_at_opening"`
	Spike          span      `json:"opening_spike"`
	Line           span      `json:"line_at_opening"`
	Pace           float64   `json:"pace_per_minute"`
	Limit          string    `json:"limit"`
	CapPerMinute   float64   `json:"cap_turnover_per_minute"`
	ClearSeconds   span      `json:"clear_seconds"`
	Model          string    `json:"model"`
}

// handleAdminForecast: GET /rooms/{room}/forecast: the line expected at the opening and how
// long it takes to go in (after the opening: the line now).
func (s *Server) handleAdminForecast(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	f, err := s.engine.Forecast(c.Request().Context(), rm.cfg.Name)
	if err != nil {
		return s.storeErr("forecast", err)
	}
	out := forecastJSON{Room: rm.cfg.Name, Now: f.Now.In(rm.loc).Format(time.RFC3339), Opened: f.Opened, Prequeue: f.Prequeue,
		Waiting: f.Waiting, Joined: f.Joined, JoinsPerMinute: f.PerMinute, Flat: f.Flat, Trend: f.Trend, Basis: f.Basis,
		Arrivals: span{f.ArrivalsLow, f.ArrivalsHigh}, PrequeueAt: span{f.PrequeueLow, f.PrequeueHigh},
		Spike: span{f.SpikeLow, f.SpikeHigh}, Line: span{f.LineLow, f.LineHigh}, Pace: f.Pace, Limit: f.Limit,
		CapPerMinute: f.CapPerMinute, ClearSeconds: span{int64(f.ClearLow / time.Second), int64(f.ClearHigh / time.Second)},
		Model: forecastModel}
	if !f.OpensAt.IsZero() {
		out.OpensAt = f.OpensAt.In(rm.loc).Format(time.RFC3339)
	}
	return c.JSON(http.StatusOK, out)
}

// outcomeMinute is one complete minute of outcomes; Flagged is the refund list's size at its end.
type outcomeMinute struct {
	T         int64   `json:"t"`
	Booked    float64 `json:"booked"`
	Failed    float64 `json:"failed"`
	Abandoned float64 `json:"abandoned"`
	Expired   float64 `json:"expired"`
	Flagged   int64   `json:"flagged"`
}

// outcomesPerMinute turns the cumulative minute series into outcomes per minute: a gap between
// records (no replica recorded) is spread evenly; a counter going back (a restore) counts 0.
func outcomesPerMinute(ms []queue.MinuteSample) []outcomeMinute {
	out := []outcomeMinute{}
	rate := func(a, b int64, gap float64) float64 { return max(0, float64(b-a)) / gap }
	for i := 1; i < len(ms); i++ {
		a, b := ms[i-1], ms[i]
		gap := float64(b.T.Sub(a.T) / time.Minute)
		if gap < 1 {
			continue
		}
		for j := 0; j < int(gap); j++ {
			out = append(out, outcomeMinute{T: a.T.Unix() + int64(j)*60, Booked: rate(a.Booked, b.Booked, gap),
				Failed: rate(a.Failed, b.Failed, gap), Abandoned: rate(a.Abandoned, b.Abandoned, gap),
				Expired: rate(a.Expired, b.Expired, gap), Flagged: b.Flagged})
		}
	}
	return out
}

// handleAdminOutcomesPerMinute: GET /rooms/{room}/outcomes/per-minute[?minutes=60]: booked,
// failed, abandoned and expired sessions per complete minute, and the refund list's size.
func (s *Server) handleAdminOutcomesPerMinute(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	minutes := 60
	if v := c.QueryParam("minutes"); v != "" {
		if minutes, err = strconv.Atoi(v); err != nil || minutes < 1 || minutes > queue.MinuteSeriesLen {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "minutes must be 1.." + strconv.Itoa(queue.MinuteSeriesLen),
				Fields: map[string]string{"minutes": "must be 1.." + strconv.Itoa(queue.MinuteSeriesLen)}}
		}
	}
	ms, err := s.engine.Minutes(c.Request().Context(), rm.cfg.Name, s.now().Add(-time.Duration(minutes+1)*time.Minute))
	if err != nil {
		return s.storeErr("minutes", err)
	}
	return c.JSON(http.StatusOK, struct {
		Minutes []outcomeMinute `json:"minutes"`
	}{outcomesPerMinute(ms)})
}
