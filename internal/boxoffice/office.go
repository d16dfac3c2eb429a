package boxoffice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
)

// Office is one box office. Create it with New; serve Handler. It is safe for concurrent use.
type Office struct {
	cfg        Config
	log        zerolog.Logger
	pool       *pool
	rec        *recorder
	screenings []screening
	nextID     atomic.Int64
	handler    http.Handler

	listMu   sync.Mutex
	listJSON []byte
	listAt   time.Time

	releases sync.WaitGroup
	pending  atomic.Int64 // release calls in progress
	lost     atomic.Int64 // release calls given up on
}

// screening is one showing with its remaining seats.
type screening struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Venue string `json:"venue"`
	Start string `json:"start"`
	left  atomic.Int64
}

// New validates cfg and builds the office. Zero fields that may not be zero (workers, timeout,
// speed, sizes, paths) take DefaultConfig's values; service times are taken as given, so start
// from DefaultConfig to change a few.
func New(cfg Config) (*Office, error) {
	cfg = withDefaults(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("boxoffice: config: %w", err)
	}
	o := &Office{cfg: cfg, log: cfg.Logger.With().Str("component", "boxoffice").Logger()}
	now := time.Now()
	o.rec = newRecorder(cfg, now)
	o.pool = newPool(cfg.Workers, cfg.MaxQueue, func(inflight, queued int) {
		o.rec.occupancy(time.Now(), inflight, queued)
	})
	o.screenings = makeScreenings(cfg.Screenings, cfg.Seats)
	o.handler = o.routes()
	return o, nil
}

// withDefaults fills zero fields from DefaultConfig.
func withDefaults(c Config) Config {
	d := DefaultConfig()
	if c.Workers == 0 {
		c.Workers = d.Workers
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = d.MaxQueue
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.Speed == 0 {
		c.Speed = d.Speed
	}
	if c.Screenings == 0 {
		c.Screenings = d.Screenings
	}
	if c.Seats == 0 {
		c.Seats = d.Seats
	}
	if c.MaxSeatsPerBooking == 0 {
		c.MaxSeatsPerBooking = d.MaxSeatsPerBooking
	}
	if c.BasePath == "" {
		c.BasePath = d.BasePath
	}
	if c.SeriesEvery == 0 {
		c.SeriesEvery = d.SeriesEvery
	}
	if c.SeriesLen == 0 {
		c.SeriesLen = d.SeriesLen
	}
	return c
}

// Config returns the office's configuration, defaults filled in.
func (o *Office) Config() Config { return o.cfg }

// Handler serves the office: the visitor-facing routes under Config.BasePath (through
// Config.Check) and the operations routes under /boxoffice/.
func (o *Office) Handler() http.Handler { return o.handler }

// Stats returns the figures since start or the last Reset.
func (o *Office) Stats() Stats {
	s := o.rec.snapshot(o.seatsLeft())
	s.ReleasesPending, s.ReleasesLost = o.pending.Load(), o.lost.Load()
	return s
}

// Reset puts every seat back on sale and zeroes the figures; requests in progress finish
// and are counted afresh.
func (o *Office) Reset() {
	for i := range o.screenings {
		o.screenings[i].left.Store(int64(o.cfg.Seats))
	}
	o.rec.mu.Lock()
	o.rec.reset(time.Now())
	o.rec.mu.Unlock()
	o.listMu.Lock()
	o.listJSON = nil
	o.listMu.Unlock()
}

// Wait blocks until the release calls started so far have finished, or ctx is done.
func (o *Office) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { o.releases.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *Office) seatsLeft() int64 {
	var n int64
	for i := range o.screenings {
		n += o.screenings[i].left.Load()
	}
	return n
}

func (o *Office) routes() http.Handler {
	visitor := http.NewServeMux()
	b := o.cfg.BasePath
	visitor.HandleFunc("GET "+b+"/{$}", o.handlePage)
	visitor.HandleFunc("GET "+b+"/api/screenings", o.handleList)
	visitor.HandleFunc("POST "+b+"/api/bookings", o.handleBook)
	visitor.HandleFunc("POST "+b+"/confirm", o.handleBookForm)
	var checked http.Handler = visitor
	if o.cfg.Check != nil {
		checked = o.cfg.Check(visitor)
	}

	mux := http.NewServeMux()
	mux.Handle(b+"/", checked)
	mux.HandleFunc("GET /boxoffice/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, o.Stats())
	})
	mux.HandleFunc("GET /boxoffice/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writePrometheus(w, o.Stats())
	})
	mux.HandleFunc("POST /boxoffice/reset", func(w http.ResponseWriter, r *http.Request) {
		if !o.cfg.AllowReset {
			writeError(w, http.StatusForbidden, "forbidden", "reset is disabled", false)
			return
		}
		o.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b+"/", http.StatusFound)
	})
	return mux
}

// request is one visitor-facing request in progress.
type request struct {
	ctx     context.Context
	arrival time.Time
	granted time.Time // when it got its worker
	due     time.Time // when its last step was planned to end
	out     outcome
}

// admit waits for a worker slot. On failure it has set out.status and the caller answers.
// On success the caller must call o.pool.release.
func (o *Office) admit(r *http.Request) (*request, context.CancelFunc, bool) {
	arrival := time.Now()
	o.rec.request()
	ctx, cancel := context.WithDeadline(r.Context(), arrival.Add(o.cfg.wall(o.cfg.Timeout)))
	req := &request{ctx: ctx, arrival: arrival}
	if err := o.pool.acquire(ctx); err != nil {
		if errors.Is(err, errQueueFull) {
			req.out.status = http.StatusServiceUnavailable
		} else {
			req.out.status = timeoutStatus(ctx)
			req.out.stage = "queue"
		}
		return req, cancel, false
	}
	req.granted = time.Now()
	return req, cancel, true
}

func (o *Office) finish(req *request) {
	req.out.wallSpent = time.Since(req.arrival)
	o.rec.done(time.Now(), req.out)
}

func timeoutStatus(ctx context.Context) int {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return http.StatusGatewayTimeout
	}
	return 499 // the client went away
}

// step spends one step's service time, which grows with the requests in progress, plus extra
// (the payment provider's part). Steps follow a planned timeline: each starts when the last
// was due to end, not when its timer happened to fire, so a coarse OS timer delays a request
// once rather than at every step. It returns false when the request's deadline struck first.
func (o *Office) step(req *request, extra time.Duration) bool {
	d := o.cfg.StepBase + time.Duration(o.pool.inflight())*o.cfg.StepPerInflight
	if o.cfg.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + o.cfg.Jitter*(2*rand.Float64()-1)))
	}
	now := time.Now()
	start := req.due
	if start.IsZero() || start.Before(req.granted) {
		start = now
	}
	req.due = start.Add(o.cfg.wall(d + extra))
	if deadline, ok := req.ctx.Deadline(); ok && req.due.After(deadline) {
		<-req.ctx.Done()
		return false
	}
	wait := req.due.Sub(now)
	if wait <= 0 {
		return req.ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		o.rec.late(time.Since(req.due)) // the timer's lateness: this process's CPU starvation
		return true
	case <-req.ctx.Done():
		return false
	}
}

func (o *Office) handleList(w http.ResponseWriter, r *http.Request) {
	req, cancel, ok := o.admit(r)
	defer cancel()
	defer o.finish(req)
	if !ok {
		writeFailure(w, req.out)
		return
	}
	defer o.pool.release()
	if !o.step(req, 0) {
		req.out.status, req.out.stage = timeoutStatus(req.ctx), "list"
		writeFailure(w, req.out)
		return
	}
	req.out.status = http.StatusOK
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n < len(o.screenings) {
		_, _ = w.Write(o.listFirst(n))
		return
	}
	_, _ = w.Write(o.list())
}

// listFirst is the first n screenings that have seats left (a page of the programme).
func (o *Office) listFirst(n int) []byte {
	items := make([]listItem, 0, n)
	for i := range o.screenings {
		s := &o.screenings[i]
		if left := s.left.Load(); left > 0 {
			items = append(items, listItem{s.ID, s.Title, s.Venue, s.Start, left})
			if len(items) == n {
				break
			}
		}
	}
	b, _ := json.Marshal(map[string]any{"screenings": items})
	return b
}

type listItem struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Venue string `json:"venue"`
	Start string `json:"start"`
	Left  int64  `json:"seats_left"`
}

// list is the screenings as JSON, rebuilt at most every 100 ms of wall time.
func (o *Office) list() []byte {
	o.listMu.Lock()
	defer o.listMu.Unlock()
	if o.listJSON != nil && time.Since(o.listAt) < 100*time.Millisecond {
		return o.listJSON
	}
	items := make([]listItem, len(o.screenings))
	for i := range o.screenings {
		s := &o.screenings[i]
		items[i] = listItem{s.ID, s.Title, s.Venue, s.Start, s.left.Load()}
	}
	o.listJSON, _ = json.Marshal(map[string]any{"screenings": items})
	o.listAt = time.Now()
	return o.listJSON
}

// BookingRequest is the body of POST {base}/api/bookings.
type BookingRequest struct {
	// Customer identifies the buyer (a logged-in account); it lets the office count customers
	// left charged without a booking.
	Customer  string `json:"customer"`
	Screening int    `json:"screening"`
	Seats     int    `json:"seats"`
}

// Booking is the answer to a successful booking.
type Booking struct {
	ID        string `json:"booking"`
	Screening int    `json:"screening"`
	Seats     int    `json:"seats"`
	Charged   bool   `json:"charged"`
}

func (o *Office) handleBook(w http.ResponseWriter, r *http.Request) {
	var br BookingRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&br); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be {customer, screening, seats}", false)
		return
	}
	bk, out := o.book(r, br)
	if out.status != http.StatusCreated {
		writeFailure(w, out)
		return
	}
	writeJSON(w, http.StatusCreated, bk)
}

// book runs one booking: reserve, pay, confirm. It answers nothing; it returns the booking and
// how the attempt ended.
func (o *Office) book(r *http.Request, br BookingRequest) (Booking, outcome) {
	if br.Screening < 1 || br.Screening > len(o.screenings) || br.Seats < 1 ||
		br.Seats > o.cfg.MaxSeatsPerBooking || len(br.Customer) > 128 {
		return Booking{}, outcome{status: http.StatusBadRequest}
	}
	req, cancel, ok := o.admit(r)
	defer cancel()
	defer o.finish(req)
	req.out.booking, req.out.customer, req.out.seats = true, br.Customer, br.Seats
	if !ok {
		return Booking{}, req.out
	}
	defer o.pool.release()
	s := &o.screenings[br.Screening-1]

	// Reserve: hold the seats.
	if !o.step(req, 0) {
		req.out.status, req.out.stage = timeoutStatus(req.ctx), "reserve"
		return Booking{}, req.out
	}
	if !s.take(int64(br.Seats)) {
		req.out.status = http.StatusConflict
		return Booking{}, req.out
	}
	// Pay: the payment provider charges when this step completes.
	if !o.step(req, o.cfg.PaymentTime) {
		s.left.Add(int64(br.Seats))
		req.out.status, req.out.stage = timeoutStatus(req.ctx), "payment"
		return Booking{}, req.out
	}
	req.out.charged = true
	if p := o.cfg.FailAfterPayment; p > 0 && rand.Float64() < p {
		// the configured failure after payment: not the load's doing
		s.left.Add(int64(br.Seats))
		req.out.status, req.out.stage, req.out.injected = http.StatusInternalServerError, "confirm", true
		o.release(r, "failed")
		return Booking{}, req.out
	}
	// Confirm: write the booking. A deadline here is the festival's failure: the money is
	// taken, the seats go back, the visitor sees an error.
	if !o.step(req, 0) {
		s.left.Add(int64(br.Seats))
		req.out.status, req.out.stage = timeoutStatus(req.ctx), "confirm"
		o.release(r, "failed")
		return Booking{}, req.out
	}
	req.out.booked = true
	req.out.status = http.StatusCreated
	o.release(r, "booked")
	id := o.nextID.Add(1)
	return Booking{ID: fmt.Sprintf("B%07d", id), Screening: br.Screening, Seats: br.Seats, Charged: true}, req.out
}

// take removes n seats if that many are left.
func (s *screening) take(n int64) bool {
	for {
		left := s.left.Load()
		if left < n {
			return false
		}
		if s.left.CompareAndSwap(left, left-n) {
			return true
		}
	}
}

// release tells foyer the visitor is done, in the background.
func (o *Office) release(r *http.Request, outcome string) {
	if o.cfg.Release == nil {
		return
	}
	token := AdmissionToken(r)
	if token == "" {
		return
	}
	o.releases.Add(1)
	o.pending.Add(1)
	go func() {
		defer o.releases.Done()
		defer o.pending.Add(-1)
		// A busy foyer may not answer at once: try again twice, as a backend should (a lost
		// "failed" would leave a charged customer off foyer's refund list).
		for attempt, wait := 0, time.Second; ; attempt, wait = attempt+1, 3*wait {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := o.cfg.Release(ctx, token, outcome)
			cancel()
			if err == nil {
				return
			}
			if attempt == 2 || !(errors.Is(err, admission.ErrReleaseUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
				if !errors.Is(err, admission.ErrLeaseGone) {
					o.lost.Add(1)
				}
				o.log.Warn().Err(err).Str("outcome", outcome).Msg("release failed")
				return
			}
			time.Sleep(wait)
		}
	}()
}

// AdmissionToken returns the request's admission token: the one the admission middleware
// verified, else the Authorization bearer, else the Foyer-Admission header, else a
// foyer_admission_<room> cookie.
func AdmissionToken(r *http.Request) string {
	if tok, ok := admission.TokenFrom(r.Context()); ok {
		return tok
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if h := r.Header.Get("Foyer-Admission"); h != "" {
		return h
	}
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, admission.CookiePrefix) {
			return c.Value
		}
	}
	return ""
}

func (o *Office) handleBookForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		o.writePage(w, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	scr, _ := strconv.Atoi(r.PostForm.Get("screening"))
	seats, _ := strconv.Atoi(r.PostForm.Get("seats"))
	bk, out := o.book(r, BookingRequest{Customer: r.PostForm.Get("customer"), Screening: scr, Seats: seats})
	switch out.status {
	case http.StatusCreated:
		o.writePage(w, http.StatusCreated, "Booked",
			fmt.Sprintf("Booking %s: %d seat(s) for screening %d. Enjoy the film.", bk.ID, bk.Seats, bk.Screening))
	case http.StatusConflict:
		o.writePage(w, http.StatusConflict, "Sold out", "Not enough seats are left for that screening.")
	case http.StatusBadRequest:
		o.writePage(w, http.StatusBadRequest, "Bad request", "Choose a screening and 1 to 4 seats.")
	default:
		msg := "The box office is overloaded. Please try again."
		if out.charged {
			msg = "The booking failed after your payment was taken. (This is the failure foyer prevents.)"
		}
		o.writePage(w, out.status, "Something went wrong", msg)
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Charged bool `json:"charged,omitempty"`
}

func writeFailure(w http.ResponseWriter, out outcome) {
	switch out.status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
		writeError(w, out.status, "overloaded", "the box office is busy, try again", false)
	case http.StatusConflict:
		writeError(w, out.status, "sold_out", "not enough seats left", false)
	case http.StatusBadRequest:
		writeError(w, out.status, "bad_request", "the screening must exist and the seats be within the per-booking limit", false)
	case http.StatusInternalServerError:
		writeError(w, out.status, "booking_failed", "the booking failed after the payment was taken", out.charged)
	default:
		writeError(w, out.status, "timeout", "the box office did not answer in time", out.charged)
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string, charged bool) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Charged = code, msg, charged
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
