package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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

// replica is one gateway of a rotation test: its own key directory (its copy of the keys, as
// each pod has its copy of a Secret) and its own ticket secrets, over the shared Redis.
type replica struct {
	srv     *httptest.Server
	parts   *Parts
	keyDir  string
	tickets atomic.Pointer[[]TicketSecret] // what its configuration file says now
}

func startReplica(t *testing.T, db *redistest.DB, backend string, keyDir string, delay time.Duration, secrets []TicketSecret) *replica {
	t.Helper()
	rep := &replica{keyDir: keyDir}
	rep.tickets.Store(&secrets)
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.PublicURL = "http://127.0.0.1"
	cfg.Redis.Prefix = db.Prefix
	cfg.Tokens.KeyDir = keyDir
	cfg.Tokens.NewKeyDelay = delay
	cfg.Tickets.Secrets = secrets
	cfg.Limits.JoinsPerMinute = 0
	cfg.Rooms = []RoomConfig{{Name: testRoom, Paths: []string{"/book/"}, Backend: backend,
		RatePerMinute: 100000, MaxActive: 100000, QueueAll: true}}
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(io.Discard)
	if testing.Verbose() {
		log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	}
	engine, err := queue.New(db.Client, queue.Config{Prefix: db.Prefix, TicketKeys: TicketKeys(cfg), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ring, err := admission.NewKeyRing(keyDir, "", admission.KeyRingOptions{NewKeyDelay: delay, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	site, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(cfg, Deps{Engine: engine, KeyRing: ring, Site: site, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rep.parts = &Parts{Engine: engine, Keys: ring.Current(), KeyRing: ring, Server: gw}
	ctx, cancel := context.WithCancel(context.Background())
	if err := gw.EnsureRooms(ctx); err != nil {
		t.Fatal(err)
	}
	reloader := &KeyReloader{Parts: rep.parts, NewKeyDelay: delay, Log: log,
		Config: func() (Config, error) {
			c := cfg
			c.Tickets.Secrets = *rep.tickets.Load()
			return c, nil
		}}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = engine.Run(ctx) }()
	go func() { defer wg.Done(); _ = gw.Run(ctx) }()
	go func() { defer wg.Done(); reloader.Run(ctx, 100*time.Millisecond, nil) }()
	rep.srv = httptest.NewServer(gw.Handler())
	t.Cleanup(func() { rep.srv.Close(); cancel(); wg.Wait() })
	return rep
}

// tokenKID reads the kid of a JWT's header (the token is trusted: this test's gateways made it).
func tokenKID(tok string) string {
	h, _, _ := strings.Cut(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(h)
	var hdr struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(b, &hdr)
	return hdr.Kid
}

// TestKeyRotationUnderLoad rotates the admission signing key and the ticket secret of two
// replicas while visitors keep joining, polling and going in through both, each replica
// reading the new key half a second after the other (as pods read a Secret at different
// moments). No visitor may be refused at any step: a ticket or token one replica signed must
// pass at the other. Afterwards tokens are signed by the new key, and they verify with the
// JWKS alone (as a backend verifies them).
func TestKeyRotationUnderLoad(t *testing.T) {
	db := redistest.New(t)
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "backend:"+r.URL.Path)
	}))
	t.Cleanup(backend.Close)

	oldKey, err := admission.GenerateKey(admission.EdDSA, "20260101T000000Z-aaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := admission.GenerateKey(admission.EdDSA, "20260201T000000Z-bbbbbb")
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, d := range dirs {
		if err := admission.WriteKeyFile(filepath.Join(d, oldKey.FileName()), oldKey); err != nil {
			t.Fatal(err)
		}
	}
	oldTicket := TicketSecret{ID: 1, Secret: "old-ticket-secret-0123456789abcdef"}
	newTicket := TicketSecret{ID: 2, Secret: "new-ticket-secret-0123456789abcdef"}
	const delay = 3 * time.Second // each replica reads the new keys within 0.5 s of the other
	reps := []*replica{
		startReplica(t, db, backend.URL, dirs[0], delay, []TicketSecret{oldTicket}),
		startReplica(t, db, backend.URL, dirs[1], delay, []TicketSecret{oldTicket}),
	}

	var (
		refusals, admitted, visits atomic.Int64
		mu                         sync.Mutex
		why                        []string
		kids                       = map[string]int{}
		ticketKeys                 = map[byte]int{}
		lastNewToken               string
	)
	refuse := func(format string, args ...any) {
		refusals.Add(1)
		mu.Lock()
		if len(why) < 10 {
			why = append(why, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	// One visitor: join at one replica, poll alternating between both until admitted, then go
	// in through both.
	visit := func(n int) {
		jar, _ := cookiejar.New(nil) // cookies are per host, not port: both replicas see them
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		at := func(i int) string { return reps[(n+i)%2].srv.URL }
		get := func(method, url string) (int, []byte) {
			req, _ := http.NewRequest(method, url, nil)
			req.Header.Set("Accept", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				return 0, []byte(err.Error())
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		code, b := get(http.MethodPost, at(0)+"/foyer/v1/rooms/"+testRoom+"/join")
		if code != http.StatusOK {
			refuse("join: %d %s", code, b)
			return
		}
		var s statusBody
		_ = json.Unmarshal(b, &s)
		if k, err := reps[0].parts.Engine.DecodeTicket(testRoom, s.Ticket); err == nil {
			mu.Lock()
			ticketKeys[k.KeyID]++
			mu.Unlock()
		}
		deadline := time.Now().Add(20 * time.Second)
		for i := 1; !s.Admitted; i++ {
			if time.Now().After(deadline) {
				refuse("visitor %d not admitted in 20 s: %+v", n, s)
				return
			}
			time.Sleep(30 * time.Millisecond)
			code, b = get(http.MethodGet, at(i)+"/foyer/v1/rooms/"+testRoom+"/status")
			if code != http.StatusOK {
				refuse("status at replica %d: %d %s", (n+i)%2, code, b)
				return
			}
			s = statusBody{}
			if err := json.Unmarshal(b, &s); err != nil {
				refuse("status: %v %s", err, b)
				return
			}
		}
		admitted.Add(1)
		var tok string
		for _, ck := range jar.Cookies(mustURL(reps[0].srv.URL)) {
			if ck.Name == admission.CookieNameFor(testRoom) {
				tok = ck.Value
			}
		}
		mu.Lock()
		kids[tokenKID(tok)]++
		if tokenKID(tok) == newKey.ID() {
			lastNewToken = tok
		}
		mu.Unlock()
		for i := range 4 { // both replicas, twice: a token made at one passes at the other
			code, b := get(http.MethodGet, at(i)+"/book/seat")
			visits.Add(1)
			if code != http.StatusOK || !strings.HasPrefix(string(b), "backend:") {
				refuse("visitor %d at replica %d: %d %.80s", n, (n+i)%2, code, b)
				return
			}
		}
	}

	// The crowd: 16 visitors at a time, a new one as soon as one is done, until told to stop.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				visit(int(next.Add(1)))
			}
		}()
	}

	// The rotation, while the crowd goes on: the new key and the new ticket secret (first,
	// the old one kept after it) reach replica 0, then replica 1 half a second later.
	time.Sleep(500 * time.Millisecond)
	for i, rep := range reps {
		if i > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		if err := admission.WriteKeyFile(filepath.Join(rep.keyDir, newKey.FileName()), newKey); err != nil {
			t.Fatal(err)
		}
		rep.tickets.Store(&[]TicketSecret{newTicket, oldTicket})
	}
	// Until both replicas sign with the new key and secret, and a while after.
	deadline := time.Now().Add(30 * time.Second)
	for _, rep := range reps {
		for rep.parts.KeyRing.Current().SigningKey().ID() != newKey.ID() || rep.parts.Engine.TicketKeyID() != 2 {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatal("the new key or ticket secret never came into use")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	t.Logf("visitors admitted %d, visits %d, backend hits %d, tokens by kid %v, tickets by key %v, refusals %d",
		admitted.Load(), visits.Load(), hits.Load(), kids, ticketKeys, refusals.Load())
	if n := refusals.Load(); n != 0 {
		t.Fatalf("%d refusals during the rotation, e.g.:\n%s", n, strings.Join(why, "\n"))
	}
	if kids[oldKey.ID()] == 0 || kids[newKey.ID()] == 0 || ticketKeys[1] == 0 || ticketKeys[2] == 0 {
		t.Fatalf("the load did not span the rotation: tokens %v, tickets %v", kids, ticketKeys)
	}
	if admitted.Load() < 50 {
		t.Fatalf("only %d visitors admitted: not a load", admitted.Load())
	}

	// A token the new key signed verifies with foyer's JWKS alone, as a backend verifies it.
	remote, err := admission.NewRemoteKeys(admission.RemoteKeysConfig{URL: reps[1].srv.URL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := admission.NewVerifier(remote, admission.VerifierOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(lastNewToken, testRoom, time.Now()); err != nil {
		t.Fatalf("token of the new key against the JWKS: %v", err)
	}

	// The old key removed from both: it is gone from the JWKS.
	for _, rep := range reps {
		if err := os.Remove(filepath.Join(rep.keyDir, oldKey.FileName())); err != nil {
			t.Fatal(err)
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for strings.Contains(string(reps[1].parts.KeyRing.JWKS()), oldKey.ID()) {
		if time.Now().After(deadline) {
			t.Fatal("removed key still in the JWKS")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
