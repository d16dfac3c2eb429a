package gateway

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
)

// TestAdmittedInOrderAtRate: visitors who join one after another are admitted in that order,
// at about the configured rate, and only then reach the backend.
func TestAdmittedInOrderAtRate(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.RatePerMinute = 600 // 10 a second
		return []RoomConfig{r}
	}})
	const n = 25
	vs := make([]*visitor, n)
	for i := range vs {
		vs[i] = h.visitor()
		s := vs[i].join(testRoom)
		if s.State != "open" {
			t.Fatalf("state %q, want open", s.State)
		}
	}
	admittedAt := make([]time.Time, n)
	start := time.Now()
	left := n
	for left > 0 && time.Since(start) < 20*time.Second {
		for i, v := range vs {
			if !admittedAt[i].IsZero() {
				continue
			}
			if s := v.status(testRoom); s.Admitted {
				admittedAt[i] = time.Now()
				left--
				if s.Token == "" || v.cookie(admission.CookieNameFor(testRoom)) == "" {
					t.Fatalf("visitor %d admitted without a token", i)
				}
				// FIFO: the head has passed everyone who joined earlier (the head may have
				// moved since they were polled this round, so ask them now)
				for j := 0; j < i; j++ {
					if admittedAt[j].IsZero() {
						if sj := vs[j].status(testRoom); !sj.Admitted {
							t.Fatalf("visitor %d admitted while visitor %d, who joined earlier, waits: %+v", i, j, sj)
						}
						admittedAt[j] = admittedAt[i]
						left--
					}
				}
			} else if s.Place == nil || *s.Place < 1 {
				t.Fatalf("visitor %d waiting without a place: %+v", i, s)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if left > 0 {
		t.Fatalf("%d visitors still waiting after 20s", left)
	}
	took := admittedAt[n-1].Sub(start)
	// The pace itself is checked on Redis's clock (queue's TestPaceAccuracy); wall time here
	// only bounds a stuck line, so a busy machine cannot fail it.
	if took > 15*time.Second {
		t.Fatalf("25 admissions at 600/min took %s", took)
	}
	t.Logf("25 visitors admitted in join order in %s at 600/min", took.Round(time.Millisecond))
	if h.hits.Load() != 0 {
		t.Fatalf("backend hit %d times before anyone asked for it", h.hits.Load())
	}
	resp, body := vs[0].do(http.MethodGet, "/book/seat-1", "text/html", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "backend:/book/seat-1") {
		t.Fatalf("admitted visitor not proxied: %d %q", resp.StatusCode, body)
	}
}

// TestNoAdmissionNeverReachesBackend: without a valid admission — none, forged, expired,
// another room's, or another visitor's — a protected request gets the waiting room.
func TestNoAdmissionNeverReachesBackend(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.RatePerMinute = 1
		r.MaxActive = 1
		other := defaultRoom(b)
		other.Name, other.Paths, other.QueueAll = "other", []string{"/other/"}, false
		return []RoomConfig{r, other}
	}})
	// A real admission for room "other"
	owner := h.visitor()
	resp, _ := owner.do(http.MethodGet, "/other/x", "text/html", nil, nil)
	if resp.StatusCode != 200 || h.hits.Load() != 1 {
		t.Fatalf("passthrough into the empty room failed: %d hits=%d", resp.StatusCode, h.hits.Load())
	}
	otherToken := owner.cookie(admission.CookieNameFor("other"))
	issuer, _ := admission.NewIssuer(h.keys, h.cfg.Tokens.Issuer)
	now := time.Now()
	expired, _ := issuer.Issue(admission.Claims{Room: testRoom, Visitor: "00000000000000000000000000000001", JTI: "x",
		IssuedAt: now.Add(-time.Hour), NotBefore: now.Add(-time.Hour), ExpiresAt: now.Add(-30 * time.Minute)})
	h.hits.Store(0)

	cases := map[string]string{
		"none":         "",
		"forged":       "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		"garbage":      strings.Repeat("A", 5000),
		"other room":   otherToken,
		"expired":      expired,
		"tampered sig": otherToken[:len(otherToken)-4] + "AAAA",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			v := h.visitor()
			v.setCookie(admission.VisitorCookieName, "00000000000000000000000000000001")
			if tok != "" {
				v.setCookie(admission.CookieNameFor(testRoom), tok)
			}
			resp, body := v.do(http.MethodGet, "/book/seat", "text/html", nil, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
				t.Fatalf("want the queue page in place, got %d", resp.StatusCode)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("queue page cacheable: %q", resp.Header.Get("Cache-Control"))
			}
			resp, _ = v.do(http.MethodPost, "/book/pay", "application/json", strings.NewReader("{}"), nil)
			if resp.StatusCode != 200 {
				t.Fatalf("POST without admission: %d", resp.StatusCode)
			}
		})
	}
	if h.hits.Load() != 0 {
		t.Fatalf("backend reached %d times without a valid admission", h.hits.Load())
	}
}

// TestCopiedTokenRefused: an admission token copied into another visitor's browser does not
// let that browser in.
func TestCopiedTokenRefused(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.QueueAll = false
		return []RoomConfig{r}
	}})
	a := h.visitor()
	if resp, _ := a.do(http.MethodGet, "/book/", "text/html", nil, nil); resp.StatusCode != 200 || h.hits.Load() != 1 {
		t.Fatalf("visitor a not let through an empty room: %d", resp.StatusCode)
	}
	tok := a.cookie(admission.CookieNameFor(testRoom))
	b := h.visitor()
	b.setCookie(admission.VisitorCookieName, newVisitorID())
	b.setCookie(admission.CookieNameFor(testRoom), tok)
	before := h.hits.Load()
	resp, body := b.do(http.MethodGet, "/book/", "application/json", nil, nil)
	if h.hits.Load() != before+1 {
		// b may be let in on its own merit (empty room), but never as a
		var s statusBody
		_ = json.Unmarshal(body, &s)
		t.Logf("b got %d admitted=%v", resp.StatusCode, s.Admitted)
	}
	// b's own admission, if any, is bound to b, not a
	if got := b.cookie(admission.CookieNameFor(testRoom)); got == tok {
		t.Fatal("the copied token was accepted as b's admission")
	}
	// the refusal is counted
	_, body = b.do(http.MethodGet, "/metrics", "", nil, nil)
	if !strings.Contains(string(body), `foyer_admission_refused_total{reason="visitor_mismatch",room="festival"}`) {
		t.Fatalf("refusal not counted in metrics:\n%s", grepLines(string(body), "refused"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReleaseFreesSlotAtOnce: with the cap full, a release lets the next visitor in within a
// step or two.
func TestReleaseFreesSlotAtOnce(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.MaxActive, r.RatePerMinute, r.QueueAll = 1, 6000, false
		return []RoomConfig{r}
	}})
	a := h.visitor()
	if resp, _ := a.do(http.MethodGet, "/book/", "text/html", nil, nil); resp.StatusCode != 200 || h.hits.Load() != 1 {
		t.Fatalf("a not let through: %d hits=%d", resp.StatusCode, h.hits.Load())
	}
	b := h.visitor()
	s := b.join(testRoom)
	if s.Admitted {
		t.Fatal("b admitted past the cap")
	}
	time.Sleep(400 * time.Millisecond)
	if s = b.status(testRoom); s.Admitted {
		t.Fatal("b admitted past the cap")
	}
	// bad releases change nothing
	resp, _ := a.do(http.MethodPost, "/foyer/v1/rooms/festival/release", "application/json",
		strings.NewReader(`{"outcome":"won"}`), map[string]string{"Authorization": "Bearer " + a.cookie(admission.CookieNameFor(testRoom)), "Content-Type": "application/json"})
	if resp.StatusCode != 400 {
		t.Fatalf("bad outcome: %d", resp.StatusCode)
	}
	resp, _ = a.do(http.MethodPost, "/foyer/v1/rooms/festival/release", "application/json",
		strings.NewReader(`{"outcome":"booked"}`), map[string]string{"Authorization": "Bearer nope"})
	if resp.StatusCode != 401 {
		t.Fatalf("bad token release: %d", resp.StatusCode)
	}
	start := time.Now()
	resp, _ = a.do(http.MethodPost, "/foyer/v1/rooms/festival/release", "application/json",
		strings.NewReader(`{"outcome":"booked"}`), map[string]string{"Authorization": "Bearer " + a.cookie(admission.CookieNameFor(testRoom)), "Content-Type": "application/json", admission.BackendKeyHeader: testBackendKey})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("release: %d", resp.StatusCode)
	}
	b.waitAdmitted(testRoom, 2*time.Second)
	t.Logf("next visitor admitted %s after the release", time.Since(start).Round(time.Millisecond))
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := h.engine.Stats(t.Context(), testRoom)
		if err == nil && st.Released[queue.OutcomeBooked] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("released by outcome: %v %v", st.Released, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPrequeueThenOpening: visitors before the opening have no place; at the opening they are
// placed by the committed shuffle, which anyone can check from the fairness record.
func TestPrequeueThenOpening(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.OpensIn = 3 * time.Second
		r.RatePerMinute = 60
		return []RoomConfig{r}
	}})
	var fair fairnessBody
	v0 := h.visitor()
	_, body := v0.do(http.MethodGet, "/foyer/v1/rooms/festival/fairness", "application/json", nil, nil)
	if err := json.Unmarshal(body, &fair); err != nil || len(fair.Commitment) != 64 || fair.Seed != "" || fair.Opened {
		t.Fatalf("before opening the fairness record must commit without revealing: %s", body)
	}
	const n = 12
	vs := make([]*visitor, n)
	for i := range vs {
		vs[i] = h.visitor()
		s := vs[i].join(testRoom)
		if s.State != "prequeue" || s.Place != nil || s.OpensAt == nil {
			t.Fatalf("pre-queue join: %+v", s)
		}
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		if s := vs[0].status(testRoom); s.State == "open" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, body = v0.do(http.MethodGet, "/foyer/v1/rooms/festival/fairness", "application/json", nil, nil)
	if err := json.Unmarshal(body, &fair); err != nil || !fair.Opened || fair.Seed == "" || fair.PrequeueSize != n {
		t.Fatalf("after opening the seed and P must be revealed: %s", body)
	}
	seed := mustHex(t, fair.Seed)
	seen := map[int64]bool{}
	for i, v := range vs {
		s := v.status(testRoom)
		if s.State != "open" || s.Position < 1 || s.Position > n {
			t.Fatalf("visitor %d after opening: %+v", i, s)
		}
		if seen[s.Position] {
			t.Fatalf("position %d given twice", s.Position)
		}
		seen[s.Position] = true
		tk, err := h.engine.DecodeTicket(testRoom, v.ticket)
		if err != nil {
			t.Fatal(err)
		}
		if want := queue.VerifyPrequeuePlace(seed, fair.PrequeueSize, tk.Number); want != s.Position {
			t.Fatalf("ticket %d: position %d, but the revealed seed says %d", tk.Number, s.Position, want)
		}
	}
	late := h.visitor()
	if s := late.join(testRoom); s.Position != n+1 {
		t.Fatalf("first visitor after the opening: position %d, want %d", s.Position, n+1)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

// TestTokenModeReturnURL: the return URL is checked against the room's allow-list (the attack
// corpus is refused), and an admitted visitor is sent back with the token.
func TestTokenModeReturnURL(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		return []RoomConfig{{Name: "tix", Mode: "token", ReturnURLs: []string{"https://tickets.example.org/"},
			RatePerMinute: 600, MaxActive: 10, AbsentAfter: 20 * time.Second}}
	}})
	f, err := os.Open("testdata/open-redirect-corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	v := h.visitor()
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		resp, _ := v.do(http.MethodGet, "/foyer/rooms/tix?return="+url.QueryEscape(line), "application/json", nil, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("return URL %q: status %d, want 400", line, resp.StatusCode)
		}
	}
	ret := "https://tickets.example.org/seat?film=7"
	resp, body := v.do(http.MethodGet, "/foyer/rooms/tix?return="+url.QueryEscape(ret), "text/html", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
		t.Fatalf("queue page: %d", resp.StatusCode)
	}
	s := v.waitAdmittedPath("/foyer/v1/rooms/tix/status?return="+url.QueryEscape(ret), 3*time.Second)
	if !strings.HasPrefix(s.Redirect, ret+"&foyer_token=") {
		t.Fatalf("redirect %q does not go back to the return URL with the token", s.Redirect)
	}
	ver, _ := admission.NewVerifier(h.keys, admission.VerifierOptions{Issuer: h.cfg.Tokens.Issuer})
	u, _ := url.Parse(s.Redirect)
	if _, err := ver.Verify(u.Query().Get("foyer_token"), "tix", time.Now()); err != nil {
		t.Fatalf("token handed back does not verify: %v", err)
	}
}

func (v *visitor) waitAdmittedPath(path string, within time.Duration) statusBody {
	v.h.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		code, s := v.json(http.MethodGet, path)
		if code == 200 && s.Admitted {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.h.t.Fatalf("not admitted within %s", within)
	return statusBody{}
}

// TestVisitorAPIBadInput: bad room names, missing tickets and oversized cookies get clear
// errors, never a crash.
func TestVisitorAPIBadInput(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	v := h.visitor()
	tests := []struct {
		method, path string
		hdr          map[string]string
		want         int
		code         string
	}{
		{"POST", "/foyer/v1/rooms/Bad_Name/join", nil, 400, "bad_room"},
		{"POST", "/foyer/v1/rooms/" + strings.Repeat("a", 65) + "/join", nil, 400, "bad_room"},
		{"POST", "/foyer/v1/rooms/nope/join", nil, 404, "unknown_room"},
		{"GET", "/foyer/v1/rooms/festival/status", nil, 404, "no_ticket"},
		{"GET", "/foyer/v1/rooms/festival/status", map[string]string{"Foyer-Ticket": "garbage"}, 404, "no_ticket"},
		{"GET", "/foyer/v1/rooms/festival/status", map[string]string{"Foyer-Ticket": strings.Repeat("x", 9000)}, 404, "no_ticket"},
		{"POST", "/foyer/v1/rooms/festival/release", nil, 401, "no_token"},
		{"GET", "/nothing-here", nil, 404, "not_found"},
	}
	for _, tt := range tests {
		resp, body := v.do(tt.method, tt.path, "application/json", nil, tt.hdr)
		var e errorBody
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != tt.want || e.Error.Code != tt.code {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, e.Error.Code, tt.want, tt.code)
		}
	}
	// a ticket is reusable across tabs: a second join keeps the place
	s1 := v.join(testRoom)
	s2 := v.join(testRoom)
	if s1.Position != s2.Position || s1.Ticket != s2.Ticket {
		t.Fatalf("second join moved the visitor: %d -> %d", s1.Position, s2.Position)
	}
	// an app without cookies uses the Foyer-Ticket header, with its visitor secret
	app := h.visitor()
	resp, body := app.do("GET", "/foyer/v1/rooms/festival/status", "application/json", nil,
		map[string]string{"Foyer-Ticket": s1.Ticket, admission.VisitorSecretHeader: v.cookie(admission.VisitorCookieName)})
	var s statusBody
	_ = json.Unmarshal(body, &s)
	if resp.StatusCode != 200 || s.Position != s1.Position {
		t.Fatalf("header ticket: %d %+v", resp.StatusCode, s)
	}
	// a ticket alone, or with the visitor id it carries, is not a place
	for name, hdr := range map[string]map[string]string{
		"ticket alone":              {"Foyer-Ticket": s1.Ticket},
		"ticket and its visitor":    {"Foyer-Ticket": s1.Ticket, admission.VisitorSecretHeader: visitorFrom(mustReqWithCookie(v.cookie(admission.VisitorCookieName)))},
		"ticket and a wrong secret": {"Foyer-Ticket": s1.Ticket, admission.VisitorSecretHeader: newVisitorID()},
	} {
		if resp, body := h.visitor().do("GET", "/foyer/v1/rooms/festival/status", "application/json", nil, hdr); resp.StatusCode != 404 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
}

// TestJWKSVerifiesIssuedTokens: a backend holding only the JWKS can verify foyer's tokens.
func TestJWKSVerifiesIssuedTokens(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.QueueAll = false
		return []RoomConfig{r}
	}})
	v := h.visitor()
	v.do(http.MethodGet, "/book/", "text/html", nil, nil)
	tok := v.cookie(admission.CookieNameFor(testRoom))
	if tok == "" {
		t.Fatal("no admission")
	}
	rk, err := admission.NewRemoteKeys(admission.RemoteKeysConfig{URL: h.srv.URL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	ver, _ := admission.NewVerifier(rk, admission.VerifierOptions{Issuer: h.cfg.Tokens.Issuer})
	c, err := ver.Verify(tok, testRoom, time.Now())
	if err != nil {
		t.Fatalf("JWKS verification: %v", err)
	}
	secret := v.cookie(admission.VisitorCookieName)
	if !c.Confirms(secret) || c.Visitor == secret || strings.Contains(tok, secret) || c.JTI == "" {
		t.Fatalf("claims: %+v", c)
	}
}

// TestJoinAfterSessionEnded: a visitor whose admission ended (released) and who joins again is
// sent to the back of the line with a new ticket, not refused forever with the spent one.
func TestJoinAfterSessionEnded(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.QueueAll = false
		return []RoomConfig{r}
	}})
	v := h.visitor()
	first := v.join(testRoom)
	s := v.waitAdmitted(testRoom, 3*time.Second)
	resp, _ := v.do(http.MethodPost, "/foyer/v1/rooms/festival/release", "application/json",
		strings.NewReader(`{"outcome":"booked"}`), map[string]string{"Authorization": "Bearer " + s.Token, "Content-Type": "application/json", admission.BackendKeyHeader: testBackendKey})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("release: %d", resp.StatusCode)
	}
	again := v.join(testRoom)
	if again.Ticket == "" || again.Ticket == first.Ticket || again.Position <= first.Position {
		t.Fatalf("join after the session ended: ticket reused or no new place: first %d, again %d", first.Position, again.Position)
	}
}

// mustReqWithCookie is a request carrying secret in the visitor cookie.
func mustReqWithCookie(secret string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: admission.VisitorCookieName, Value: secret})
	return r
}
