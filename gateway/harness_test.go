package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/queue/redistest"
	"github.com/foyerhq/foyer/web"
)

const (
	testAdminToken = "test-admin-token-0123456789"
	testRoom       = "festival"
	// testBackendKey is the booking backend's release credential in every harness.
	testBackendKey = "test-backend-key-0123456789abcdef0123"
)

// harness is a real gateway on a loopback port, over real Redis, in front of a real upstream
// that counts what reaches it.
type harness struct {
	t       *testing.T
	cfg     Config
	gw      *Server
	engine  *queue.Engine
	srv     *httptest.Server
	backend *httptest.Server
	hits    atomic.Int64
	keys    *admission.KeySet
	cancel  context.CancelFunc
	rdb     redis.UniversalClient
	prefix  string
}

type harnessOpt struct {
	rdb    redis.UniversalClient // default: redistest.New
	prefix string
	rooms  func(backend string) []RoomConfig
	mod    func(*Config)
	// noRun leaves the engine's background loop stopped: nothing steps unless a call does.
	noRun bool
	// deps changes the gateway's dependencies before it is built.
	deps func(*Deps)
	// challengeKey signs proof-of-work challenges (replicas of one fleet share it); nil: random.
	challengeKey []byte
}

func defaultRoom(backend string) RoomConfig {
	return RoomConfig{Name: testRoom, Paths: []string{"/book/"}, Backend: backend,
		RatePerMinute: 600, MaxActive: 100, AbsentAfter: 20 * time.Second, QueueAll: true}
}

func newHarness(t *testing.T, o harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t}
	h.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "backend:"+r.URL.Path+" visitor="+r.Header.Get("Foyer-Visitor"))
	}))
	t.Cleanup(h.backend.Close)
	if o.rdb == nil {
		db := redistest.New(t)
		o.rdb, o.prefix = db.Client, db.Prefix
	}
	h.rdb, h.prefix = o.rdb, o.prefix
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Listen = ln.Addr().String()
	cfg.PublicURL = "http://" + ln.Addr().String()
	cfg.Redis.Prefix = o.prefix
	cfg.Redis.Timeout = 300 * time.Millisecond
	cfg.Admin.Tokens = []AdminToken{{Name: "tester", Token: testAdminToken}}
	cfg.Tokens.KeyDir = t.TempDir()
	cfg.Limits.JoinsPerMinute = 0 // tests join many visitors from one address
	cfg.BackendKeys = []BackendKey{{Name: "test-backend", Key: testBackendKey}}
	if o.rooms != nil {
		cfg.Rooms = o.rooms(h.backend.URL)
	} else {
		cfg.Rooms = []RoomConfig{defaultRoom(h.backend.URL)}
	}
	if o.mod != nil {
		o.mod(&cfg)
	}
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	log := zerolog.New(io.Discard)
	if testing.Verbose() {
		log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	}
	h.engine, err = queue.New(o.rdb, queue.Config{Prefix: o.prefix, CallTimeout: cfg.Redis.Timeout,
		TicketKeys: []queue.TicketKey{{ID: 1, Secret: []byte("test-ticket-secret-0123456789abcdef")}}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.keys, err = admission.LoadOrGenerate(cfg.Tokens.KeyDir, admission.Algorithm(cfg.Tokens.Algorithm), log)
	if err != nil {
		t.Fatal(err)
	}
	site, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Engine: h.engine, Keys: h.keys, Site: site, Logger: log, ChallengeKey: o.challengeKey}
	if o.deps != nil {
		o.deps(&deps)
	}
	h.gw, err = New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	if err := h.gw.EnsureRooms(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() {
		if !o.noRun {
			_ = h.engine.Run(ctx)
		}
		done <- struct{}{}
	}()
	go func() { _ = h.gw.Run(ctx); done <- struct{}{} }()
	h.srv = httptest.NewUnstartedServer(h.gw.Handler())
	_ = h.srv.Listener.Close()
	h.srv.Listener = ln
	h.srv.Start()
	t.Cleanup(func() {
		h.srv.Close()
		cancel()
		<-done
		<-done
	})
	return h
}

// visitor is a browser-like client: a cookie jar, no redirect following.
type visitor struct {
	h      *harness
	c      *http.Client
	ticket string
}

func (h *harness) visitor() *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{h: h, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (v *visitor) do(method, path, accept string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	v.h.t.Helper()
	req, err := http.NewRequest(method, v.h.srv.URL+path, body)
	if err != nil {
		v.h.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for k, val := range hdr {
		req.Header.Set(k, val)
	}
	resp, err := v.c.Do(req)
	if err != nil {
		v.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (v *visitor) json(method, path string) (int, statusBody) {
	v.h.t.Helper()
	resp, b := v.do(method, path, "application/json", nil, nil)
	var s statusBody
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(b, &s); err != nil {
			v.h.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, s
}

func (v *visitor) join(room string) statusBody {
	v.h.t.Helper()
	code, s := v.json(http.MethodPost, "/foyer/v1/rooms/"+room+"/join")
	if code != http.StatusOK {
		v.h.t.Fatalf("join: status %d", code)
	}
	v.ticket = s.Ticket
	return s
}

func (v *visitor) status(room string) statusBody {
	v.h.t.Helper()
	code, s := v.json(http.MethodGet, "/foyer/v1/rooms/"+room+"/status")
	if code != http.StatusOK {
		v.h.t.Fatalf("status: %d", code)
	}
	return s
}

func (v *visitor) cookie(name string) string {
	u, _ := url.Parse(v.h.srv.URL)
	for _, c := range v.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (v *visitor) setCookie(name, value string) {
	u, _ := url.Parse(v.h.srv.URL)
	v.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// waitAdmitted polls until admitted or the deadline.
func (v *visitor) waitAdmitted(room string, within time.Duration) statusBody {
	v.h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := v.status(room)
		if s.Admitted {
			return s
		}
		if time.Now().After(deadline) {
			v.h.t.Fatalf("not admitted within %s: %+v", within, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) admin(method, path, body string, hdr map[string]string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// quietRedis drops go-redis's own log lines (dial failures during the fault tests); the
// gateway's logs say what matters.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }
