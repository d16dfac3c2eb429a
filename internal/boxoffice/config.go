package boxoffice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Config describes one box office. Durations are in sale time: the office divides them by
// Speed.
type Config struct {
	// Workers is how many requests the office processes at once (its capacity).
	Workers int
	// MaxQueue is how many requests may wait for a worker; past it the office answers 503 at
	// once. A real server's backlog is large, so the default is too.
	MaxQueue int
	// StepBase is the service time of one step with nothing else in progress.
	StepBase time.Duration
	// StepPerInflight is added to a step's service time for every request in progress when the
	// step starts: the slow-down under load.
	StepPerInflight time.Duration
	// PaymentTime is the payment provider's answer time, added to the payment step.
	PaymentTime time.Duration
	// Jitter spreads each step's service time uniformly by ± this fraction (0..0.9).
	Jitter float64
	// Timeout is a request's deadline, counted from its arrival (waiting included).
	Timeout time.Duration
	// FailAfterPayment is the probability that a booking fails after its payment went
	// through, whatever the load (a bug, the seat map's database refusing the write): the
	// customer is charged, not booked, answered 500, and reported failed to foyer. 0 by
	// default; the festival rehearsal sets a small one so foyer's refund list has entries
	// to check against the office's own count.
	FailAfterPayment float64
	// Speed compresses time: 30 plays a 30-minute sale in one minute. Default 1.
	Speed float64
	// Screenings and Seats size the festival: Screenings screenings of Seats seats each.
	Screenings int
	Seats      int
	// MaxSeatsPerBooking bounds one booking.
	MaxSeatsPerBooking int
	// BasePath is where the visitor-facing routes live, default "/book".
	BasePath string
	// SeriesEvery is the width (sale time) of one bucket of the load time series.
	SeriesEvery time.Duration
	// SeriesLen bounds how many buckets are kept (the oldest go first).
	SeriesLen int
	// AllowReset enables POST /boxoffice/reset (for rehearsals against a running office).
	AllowReset bool
	// Check wraps the visitor-facing routes: the admission token check. Nil checks nothing
	// (the "straight at the backend" case).
	Check func(http.Handler) http.Handler
	// Release, when set, is called after a booking with the outcome "booked", or "failed" when
	// the customer was charged but not booked, and the request's admission token, so foyer
	// frees the visitor's slot at once. It runs in the background with its own deadline, and is
	// tried again twice (1 s, then 3 s later) when foyer is unavailable.
	Release func(ctx context.Context, token, outcome string) error
	// Logger gets the office's few log lines (component=boxoffice is added).
	Logger zerolog.Logger
}

// DefaultConfig is a festival box office of modest capacity: 32 workers, 100 ms a step plus
// 4 ms per request in progress, 500 ms more for the payment provider, a 30 s timeout (a
// proxy's usual), 270 screenings of 200 seats. A visitor (programme, then a booking) holds a
// worker for about 0.9 s when idle and 1.4 s at full load: about 1,400 visitors a minute.
func DefaultConfig() Config {
	return Config{
		Workers:            32,
		MaxQueue:           4096,
		StepBase:           100 * time.Millisecond,
		StepPerInflight:    4 * time.Millisecond,
		PaymentTime:        500 * time.Millisecond,
		Jitter:             0.2,
		Timeout:            30 * time.Second,
		Speed:              1,
		Screenings:         270,
		Seats:              200,
		MaxSeatsPerBooking: 4,
		BasePath:           "/book",
		SeriesEvery:        10 * time.Second,
		SeriesLen:          2000,
		Logger:             zerolog.Nop(),
	}
}

// Validate reports every problem of c at once, each naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, fmt.Errorf("%s: %s", field, msg)) }
	if c.Workers < 1 || c.Workers > 100000 {
		bad("workers", "must be 1..100000")
	}
	if c.MaxQueue < 0 {
		bad("max_queue", "must not be negative")
	}
	if c.StepBase < 0 || c.StepPerInflight < 0 || c.PaymentTime < 0 {
		bad("step", "service times must not be negative")
	}
	if c.Jitter < 0 || c.Jitter > 0.9 {
		bad("jitter", "must be 0..0.9")
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive")
	}
	if !(c.FailAfterPayment >= 0 && c.FailAfterPayment <= 1) {
		bad("fail_after_payment", "must be a probability, 0..1")
	}
	if !(c.Speed > 0 && c.Speed <= 10000) {
		bad("speed", "must be in (0, 10000]")
	}
	if c.Screenings < 1 || c.Screenings > 100000 {
		bad("screenings", "must be 1..100000")
	}
	if c.Seats < 1 || c.Seats > 1000000 {
		bad("seats", "must be 1..1000000")
	}
	if c.MaxSeatsPerBooking < 1 {
		bad("max_seats_per_booking", "must be at least 1")
	}
	if !strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/") || strings.HasPrefix(c.BasePath, "/boxoffice") {
		bad("base_path", `must start with "/", not end with "/", and not be under /boxoffice`)
	}
	if c.SeriesEvery <= 0 || c.SeriesLen < 1 {
		bad("series", "bucket width and length must be positive")
	}
	return errors.Join(errs...)
}

// wall turns a sale-time duration into a wall-clock one.
func (c Config) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.Speed)
}
