package boxoffice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// newOffice starts an office on an httptest server.
func newOffice(t *testing.T, cfg Config) (*Office, *httptest.Server) {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(srv.Close)
	return o, srv
}

func bookOnce(t *testing.T, c *http.Client, url string, br BookingRequest, hdr http.Header) (int, errorBody) {
	t.Helper()
	body, _ := json.Marshal(br)
	req, _ := http.NewRequest(http.MethodPost, url+"/book/api/bookings", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("post: %v", err)
		return 0, errorBody{}
	}
	defer resp.Body.Close()
	var eb errorBody
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &eb)
	return resp.StatusCode, eb
}

// fastConfig is a small office whose steps take milliseconds.
func fastConfig() Config {
	c := DefaultConfig()
	c.Workers = 4
	c.StepBase = 4 * time.Millisecond
	c.StepPerInflight = time.Millisecond
	c.PaymentTime = 0
	c.Jitter = 0
	c.Timeout = 2 * time.Second
	c.Screenings = 10
	c.Seats = 100000
	return c
}

func TestWithinCapacityNobodyIsChargedWithoutBooking(t *testing.T) {
	var released sync.Map
	cfg := fastConfig()
	cfg.Release = func(_ context.Context, token, outcome string) error {
		released.Store(token, outcome)
		return nil
	}
	o, srv := newOffice(t, cfg)
	const clients, each = 3, 30 // 3 at once against 4 workers: within capacity
	var wg sync.WaitGroup
	var statuses sync.Map
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				tok := fmt.Sprintf("tok-%d-%d", c, i)
				code, _ := bookOnce(t, srv.Client(), srv.URL,
					BookingRequest{Customer: fmt.Sprintf("c%d", c), Screening: 1 + i%10, Seats: 2},
					http.Header{"Authorization": {"Bearer " + tok}})
				statuses.Store(tok, code)
			}
		}()
	}
	wg.Wait()
	if err := o.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	if s.Bookings != clients*each || s.ChargedNotBooked != 0 || s.TimedOut != 0 || s.Rejected != 0 {
		t.Fatalf("bookings=%d charged_not_booked=%d timed_out=%d rejected=%d, want %d/0/0/0",
			s.Bookings, s.ChargedNotBooked, s.TimedOut, s.Rejected, clients*each)
	}
	if s.PeakInFlight > clients || s.Charged != s.Bookings || s.SeatsSold != 2*s.Bookings {
		t.Fatalf("peak_in_flight=%d charged=%d seats_sold=%d", s.PeakInFlight, s.Charged, s.SeatsSold)
	}
	n := 0
	released.Range(func(k, v any) bool {
		n++
		if v != "booked" {
			t.Errorf("release %v: outcome %v, want booked", k, v)
		}
		return true
	})
	if n != clients*each {
		t.Fatalf("released %d tokens, want %d", n, clients*each)
	}
}

func TestOverloadChargesWithoutBooking(t *testing.T) {
	var booked, failed atomic.Int64
	cfg := fastConfig()
	cfg.Timeout = 150 * time.Millisecond
	cfg.Release = func(_ context.Context, _, outcome string) error {
		switch outcome {
		case "booked":
			booked.Add(1)
		case "failed":
			failed.Add(1)
		}
		return nil
	}
	o, srv := newOffice(t, cfg)
	// 80 impatient clients against 4 workers whose booking takes ~24 ms: about 20 times the
	// capacity, for 1.5 s.
	stop := time.Now().Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	var charged504 atomic.Int64
	for c := 0; c < 80; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				code, eb := bookOnce(t, srv.Client(), srv.URL,
					BookingRequest{Customer: fmt.Sprintf("c%d-%d", c, i), Screening: 1 + i%10, Seats: 1},
					http.Header{"Authorization": {"Bearer t"}})
				if code == http.StatusGatewayTimeout && eb.Charged {
					charged504.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if err := o.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	t.Logf("requests=%d bookings=%d charged_not_booked=%d timed_out=%v peak_concurrency=%d",
		s.Requests, s.Bookings, s.ChargedNotBooked, s.TimedOutAt, s.PeakConcurrency)
	if s.ChargedNotBooked == 0 {
		t.Fatalf("overload left nobody charged without a booking: %+v", s.TimedOutAt)
	}
	if s.Charged != s.Bookings+s.ChargedNotBooked {
		t.Fatalf("charged %d != bookings %d + charged_not_booked %d", s.Charged, s.Bookings, s.ChargedNotBooked)
	}
	if s.TimedOutAt["confirm"] != s.ChargedNotBooked || charged504.Load() != s.ChargedNotBooked {
		t.Fatalf("confirm timeouts %d, charged 504s seen %d, charged_not_booked %d",
			s.TimedOutAt["confirm"], charged504.Load(), s.ChargedNotBooked)
	}
	if s.CustomersChargedNotBooked != s.ChargedNotBooked { // every attempt had its own customer
		t.Fatalf("customers_charged_not_booked %d != %d", s.CustomersChargedNotBooked, s.ChargedNotBooked)
	}
	if failed.Load() != s.ChargedNotBooked || booked.Load() != s.Bookings {
		t.Fatalf("released failed=%d booked=%d, want %d/%d", failed.Load(), booked.Load(), s.ChargedNotBooked, s.Bookings)
	}
	if s.PeakInFlight != cfg.Workers || s.PeakConcurrency <= cfg.Workers {
		t.Fatalf("peak_in_flight=%d peak_concurrency=%d, workers %d", s.PeakInFlight, s.PeakConcurrency, cfg.Workers)
	}
	if s.Latency.P99 < float64(cfg.Timeout.Milliseconds()) {
		t.Fatalf("p99 %.0f ms below the timeout under overload", s.Latency.P99)
	}
}

func TestQueueFullIsRejected(t *testing.T) {
	cfg := fastConfig()
	cfg.Workers, cfg.MaxQueue = 1, 1
	cfg.StepBase, cfg.Timeout = 300*time.Millisecond, 5*time.Second
	o, srv := newOffice(t, cfg)
	waitFor := func(cond func(Stats) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if cond(o.Stats()) {
				return
			}
		}
		t.Fatalf("condition not reached: %+v", o.Stats())
	}
	results := make(chan int, 2)
	for i := 0; i < 2; i++ {
		go func() {
			code, _ := bookOnce(t, srv.Client(), srv.URL, BookingRequest{Customer: "x", Screening: 1, Seats: 1}, nil)
			results <- code
		}()
		if i == 0 {
			waitFor(func(s Stats) bool { return s.InFlight == 1 })
		} else {
			waitFor(func(s Stats) bool { return s.Queued == 1 })
		}
	}
	code, eb := bookOnce(t, srv.Client(), srv.URL, BookingRequest{Customer: "y", Screening: 1, Seats: 1}, nil)
	if code != http.StatusServiceUnavailable || eb.Error.Code != "overloaded" || eb.Charged {
		t.Fatalf("third request: %d %+v, want 503 overloaded", code, eb)
	}
	if a, b := <-results, <-results; a != http.StatusCreated || b != http.StatusCreated {
		t.Fatalf("first two: %d %d, want 201 201", a, b)
	}
	if s := o.Stats(); s.Rejected != 1 || s.PeakQueued != 1 || s.PeakConcurrency != 2 {
		t.Fatalf("rejected=%d peak_queued=%d peak_concurrency=%d", s.Rejected, s.PeakQueued, s.PeakConcurrency)
	}
}

func TestSoldOutAndBadInput(t *testing.T) {
	cfg := fastConfig()
	cfg.Screenings, cfg.Seats = 1, 3
	o, srv := newOffice(t, cfg)
	tests := []struct {
		name string
		br   BookingRequest
		want int
	}{
		{"two of three", BookingRequest{Customer: "a", Screening: 1, Seats: 2}, http.StatusCreated},
		{"two of one left", BookingRequest{Customer: "b", Screening: 1, Seats: 2}, http.StatusConflict},
		{"last one", BookingRequest{Customer: "c", Screening: 1, Seats: 1}, http.StatusCreated},
		{"no such screening", BookingRequest{Customer: "d", Screening: 2, Seats: 1}, http.StatusBadRequest},
		{"too many seats", BookingRequest{Customer: "e", Screening: 1, Seats: 5}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _ := bookOnce(t, srv.Client(), srv.URL, tt.br, nil); code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
		})
	}
	if s := o.Stats(); s.SeatsLeft != 0 || s.SoldOut != 1 || s.Bookings != 2 {
		t.Fatalf("seats_left=%d sold_out=%d bookings=%d", s.SeatsLeft, s.SoldOut, s.Bookings)
	}
	resp, err := srv.Client().Post(srv.URL+"/book/api/bookings", "application/json", strings.NewReader(`{"nope":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown field: %d, want 400", resp.StatusCode)
	}
}

func TestCheckGuardsVisitorRoutesOnly(t *testing.T) {
	cfg := fastConfig()
	cfg.Check = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if AdmissionToken(r) != "good" {
				http.Error(w, "no admission", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	_, srv := newOffice(t, cfg)
	tests := []struct {
		path, cookie string
		want         int
	}{
		{"/book/", "", http.StatusUnauthorized},
		{"/book/", "good", http.StatusOK},
		{"/book/api/screenings", "bad", http.StatusUnauthorized},
		{"/book/api/screenings", "good", http.StatusOK},
		{"/boxoffice/stats", "", http.StatusOK},
		{"/boxoffice/metrics", "", http.StatusOK},
		{"/healthz", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.path+"/"+tt.cookie, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: admission.CookieNameFor("biff-demo"), Value: tt.cookie})
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestSpeedScalesTimeAndReportsSaleTime(t *testing.T) {
	cfg := fastConfig()
	cfg.StepBase, cfg.StepPerInflight, cfg.PaymentTime = 200*time.Millisecond, 0, 300*time.Millisecond
	cfg.Speed = 100 // a step is 2 ms of wall time and reported as 200 ms
	o, srv := newOffice(t, cfg)
	start := time.Now()
	for i := 0; i < 5; i++ {
		if code, _ := bookOnce(t, srv.Client(), srv.URL, BookingRequest{Customer: "a", Screening: 1, Seats: 1}, nil); code != 201 {
			t.Fatalf("status %d", code)
		}
	}
	if wall := time.Since(start); wall > 10*time.Second {
		t.Fatalf("5 bookings of 600 ms sale time took %v of wall time", wall)
	}
	s := o.Stats()
	// Timers never fire early, so three 200 ms steps and the 300 ms payment are at least
	// 900 ms (less the histogram's 5%).
	if s.BookingLatency.P50 < 855 || s.BookingLatency.Count != 5 {
		t.Fatalf("booking latency %+v, want p50 >= 900 ms of sale time", s.BookingLatency)
	}
}

func TestResetAndPrometheus(t *testing.T) {
	cfg := fastConfig()
	cfg.AllowReset = true
	o, srv := newOffice(t, cfg)
	bookOnce(t, srv.Client(), srv.URL, BookingRequest{Customer: "a", Screening: 1, Seats: 2}, nil)
	resp, err := srv.Client().Get(srv.URL + "/boxoffice/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"boxoffice_bookings_total 1\n", "boxoffice_charged_not_booked_total 0\n",
		"# TYPE boxoffice_latency_seconds summary", `boxoffice_latency_seconds{quantile="0.95"}`} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	resp, err = srv.Client().Post(srv.URL+"/boxoffice/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := o.Stats(); resp.StatusCode != http.StatusNoContent || s.Bookings != 0 || s.SeatsLeft != 10*100000 {
		t.Fatalf("reset: %d, bookings %d, seats_left %d", resp.StatusCode, s.Bookings, s.SeatsLeft)
	}
}

func TestConfigValidateNamesEveryField(t *testing.T) {
	c := DefaultConfig()
	c.Workers, c.Speed, c.BasePath, c.Jitter = 0, -1, "book/", 2
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, f := range []string{"workers", "speed", "base_path", "jitter"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	if _, err := New(Config{Speed: -3}); err == nil || !strings.Contains(err.Error(), "speed") {
		t.Fatalf("New with bad speed: %v", err)
	}
}

func TestListPage(t *testing.T) {
	cfg := fastConfig()
	cfg.Screenings, cfg.Seats = 10, 2
	_, srv := newOffice(t, cfg)
	bookOnce(t, srv.Client(), srv.URL, BookingRequest{Customer: "a", Screening: 1, Seats: 2}, nil) // sells out screening 1
	tests := []struct {
		query   string
		want    int
		firstID int
	}{{"", 10, 1}, {"?limit=3", 3, 2}, {"?limit=0", 10, 1}, {"?limit=x", 10, 1}}
	for _, tt := range tests {
		resp, err := srv.Client().Get(srv.URL + "/book/api/screenings" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Screenings []struct {
				ID   int   `json:"id"`
				Left int64 `json:"seats_left"`
			} `json:"screenings"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || len(body.Screenings) != tt.want || body.Screenings[0].ID != tt.firstID {
			t.Errorf("%q: %d screenings, first %+v, err %v; want %d starting at %d", tt.query, len(body.Screenings),
				body.Screenings, err, tt.want, tt.firstID)
		}
	}
}

// TestFailAfterPayment: with FailAfterPayment 1 every booking is charged, not booked, answered
// 500 with charged true and reported failed; the office counts the attempts (all injected) and
// the customers owed a refund once each, even one who books later.
func TestFailAfterPayment(t *testing.T) {
	cfg := fastConfig()
	cfg.FailAfterPayment = 1
	var mu sync.Mutex
	released := map[string]int{}
	cfg.Release = func(_ context.Context, token, outcome string) error {
		mu.Lock()
		released[outcome]++
		mu.Unlock()
		return nil
	}
	o, srv := newOffice(t, cfg)
	hdr := http.Header{"Authorization": {"Bearer tok"}}
	for _, c := range []string{"a", "b", "a"} {
		code, eb := bookOnce(t, srv.Client(), srv.URL, BookingRequest{Customer: c, Screening: 1, Seats: 1}, hdr)
		if code != http.StatusInternalServerError || !eb.Charged || eb.Error.Code != "booking_failed" {
			t.Fatalf("booking: %d %+v", code, eb)
		}
	}
	o.cfg.FailAfterPayment = 0 // "a" books at last: still owed the earlier charges
	if code, _ := bookOnce(t, srv.Client(), srv.URL, BookingRequest{Customer: "a", Screening: 1, Seats: 1}, hdr); code != http.StatusCreated {
		t.Fatalf("booking after: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = o.Wait(ctx)
	st := o.Stats()
	mu.Lock()
	defer mu.Unlock()
	if st.ChargedNotBooked != 3 || st.FailedAfterPayment != 3 || st.CustomersRefundDue != 2 || st.CustomersChargedNotBooked != 1 ||
		st.Bookings != 1 || released["failed"] != 3 || released["booked"] != 1 {
		t.Fatalf("stats: charged-not-booked %d, injected %d, refund due %d, without booking %d, bookings %d; released %v",
			st.ChargedNotBooked, st.FailedAfterPayment, st.CustomersRefundDue, st.CustomersChargedNotBooked, st.Bookings, released)
	}
	if st.SeatsLeft != 10*100000-1 {
		t.Fatalf("seats left %d: the failed bookings' seats must go back", st.SeatsLeft)
	}
}
