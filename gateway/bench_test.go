package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/queue/redistest"
	"github.com/foyerhq/foyer/web"
)

// benchGateway is a gateway over the test Redis with one room whose line does not move (rate 1
// per minute, everyone queued), and tickets spread over that line. It is built without a
// listener: benchmarks call the handler directly, so they measure foyer and not the network.
type benchGateway struct {
	gw      *Server
	tickets []string
	secrets []string // the visitor secret of each ticket
	path    string
}

func newBenchGateway(b *testing.B, tickets int) *benchGateway {
	b.Helper()
	db := redistest.New(b)
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:8080"
	cfg.Redis.Prefix = db.Prefix
	cfg.Tokens.KeyDir = b.TempDir()
	cfg.Limits.JoinsPerMinute = 0
	cfg.Admin.Tokens = []AdminToken{{Name: "bench", Token: testAdminToken}}
	cfg.Rooms = []RoomConfig{{Name: testRoom, Mode: "token", ReturnURLs: []string{"https://tickets.example.org/"},
		RatePerMinute: 1, MaxActive: 10, QueueAll: true, AbsentAfter: time.Minute}}
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	log := zerolog.New(io.Discard).Level(zerolog.InfoLevel) // as in production: 2xx lines are debug
	engine, err := queue.New(db.Client, queue.Config{Prefix: db.Prefix, CallTimeout: cfg.Redis.Timeout,
		TicketKeys: []queue.TicketKey{{ID: 1, Secret: []byte("bench-ticket-secret-0123456789abcdef")}}, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := admission.LoadOrGenerate(cfg.Tokens.KeyDir, admission.Algorithm(cfg.Tokens.Algorithm), log)
	if err != nil {
		b.Fatal(err)
	}
	site, err := web.New(web.Config{})
	if err != nil {
		b.Fatal(err)
	}
	gw, err := New(cfg, Deps{Engine: engine, Keys: keys, Site: site, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := gw.EnsureRooms(ctx); err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = engine.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })

	bg := &benchGateway{gw: gw, path: cfg.Prefix + "/v1/rooms/" + testRoom + "/status"}
	bg.tickets = make([]string, tickets)
	bg.secrets = make([]string, tickets)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	const workers = 64 // concurrent joins are coalesced into one Redis call
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < tickets; i += workers {
				secret := newVisitorID()
				_, raw, err := engine.Join(ctx, testRoom, visitorID(secret))
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				bg.tickets[i], bg.secrets[i] = raw, secret
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	// the first ticket may be let in by passthrough; every other one waits
	return bg
}

// sink is a ResponseWriter that keeps only the status and the body's length, so the benchmark
// measures the gateway and not a recorder.
type sink struct {
	h    http.Header
	code int
	n    int
}

func (w *sink) Header() http.Header         { return w.h }
func (w *sink) WriteHeader(code int)        { w.code = code }
func (w *sink) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *sink) reset()                      { clear(w.h); w.code, w.n = 0, 0 }

// pollRequests builds one status request per ticket, as an app sends it.
func (bg *benchGateway) pollRequests() []*http.Request {
	reqs := make([]*http.Request, len(bg.tickets))
	for i, t := range bg.tickets {
		req := httptest.NewRequest(http.MethodGet, bg.path, nil)
		req.Header.Set("Accept", "application/json")
		req.Header.Set(ticketHeader, t)
		req.Header.Set(admission.VisitorSecretHeader, bg.secrets[i])
		reqs[i] = req
	}
	return reqs
}

// BenchmarkStatusPoll measures the gateway's status poll (middleware, ticket check, the
// engine's cached status, the JSON body) through the whole echo handler, without the network
// and net/http's connection handling (the load run, cmd/foyer-load polls, has those).
func BenchmarkStatusPoll(b *testing.B) {
	bg := newBenchGateway(b, 10000)
	reqs := bg.pollRequests()[1:] // ticket 0 may have been let in by passthrough
	h := bg.gw.Handler()
	w := &sink{h: http.Header{}}
	h.ServeHTTP(w, reqs[len(reqs)/2])
	if w.code != http.StatusOK || w.n < 100 {
		b.Fatalf("status %d, %d bytes", w.code, w.n)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, reqs[i])
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
		if i++; i == len(reqs) {
			i = 0
		}
	}
}

// BenchmarkStatusPollParallel is BenchmarkStatusPoll from GOMAXPROCS goroutines: contention on
// the engine's cache, the liveness marks and the metrics shows here.
func BenchmarkStatusPollParallel(b *testing.B) {
	bg := newBenchGateway(b, 10000)
	reqs := bg.pollRequests()[1:]
	h := bg.gw.Handler()
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(997)) % len(reqs)
		w := &sink{h: http.Header{}}
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, reqs[i])
			if w.code != http.StatusOK {
				b.Errorf("status %d", w.code)
				return
			}
			if i++; i == len(reqs) {
				i = 0
			}
		}
	})
}

// BenchmarkStatusJSON compares the status body's encoder with encoding/json's.
func BenchmarkStatusJSON(b *testing.B) {
	place, ahead := int64(54321), int64(54320)
	opens := "2026-10-01T14:00:00+09:00"
	body := statusBody{Room: testRoom, State: "open", Place: &place, Ahead: &ahead,
		ETA: &etaBody{Low: 3259260, High: 3585186}, PollAfterMS: 19876, OpensAt: &opens,
		Position: 54322, UpdatedAt: "2026-10-01T05:00:00Z"}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = appendStatusJSON(buf[:0], &body)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var out bytes.Buffer
		for b.Loop() {
			out.Reset()
			if err := json.NewEncoder(&out).Encode(&body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
