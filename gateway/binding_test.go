package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// TestCopiedTokenWithReadableClaimsRefused: a leaked admission token, alone or with anything
// readable from it (sub, cnf, jti), does not reach the backend from another browser or app;
// the visitor who holds the secret still does.
func TestCopiedTokenWithReadableClaimsRefused(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.QueueAll, r.MaxActive, r.RatePerMinute = false, 1, 1
		return []RoomConfig{r}
	}})
	a := h.visitor()
	if resp, _ := a.do(http.MethodGet, "/book/", "text/plain", nil, nil); resp.StatusCode != 200 || h.hits.Load() != 1 {
		t.Fatalf("a not let through an empty room: %d", resp.StatusCode)
	}
	tok := a.cookie(admission.CookieNameFor(testRoom))
	ks, err := admission.NewVerifier(h.keys, admission.VerifierOptions{Issuer: h.cfg.Tokens.Issuer})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ks.Verify(tok, testRoom, h.gw.now())
	if err != nil {
		t.Fatal(err)
	}
	readable := map[string]string{"sub": c.Visitor, "cnf": c.Confirmation, "jti": c.JTI, "token": tok}
	for name, guess := range readable {
		// a browser with the token and a visitor cookie made from the token
		b := h.visitor()
		b.setCookie(admission.CookieNameFor(testRoom), tok)
		b.setCookie(admission.VisitorCookieName, guess)
		b.do(http.MethodGet, "/book/", "text/plain", nil, nil)
		// an app with the token and a secret made from the token
		h.visitor().do(http.MethodGet, "/book/", "text/plain", nil,
			map[string]string{admission.HeaderName: tok, admission.VisitorSecretHeader: guess})
		if n := h.hits.Load(); n != 1 {
			t.Fatalf("token + %s reached the backend (%d hits)", name, n)
		}
	}
	// the token alone
	h.visitor().do(http.MethodGet, "/book/", "text/plain", nil, map[string]string{admission.HeaderName: tok})
	if n := h.hits.Load(); n != 1 {
		t.Fatalf("the token alone reached the backend (%d hits)", n)
	}
	// the owner, as a browser and as an app with its secret, still gets in
	if resp, _ := a.do(http.MethodGet, "/book/x", "text/plain", nil, nil); resp.StatusCode != 200 || h.hits.Load() != 2 {
		t.Fatalf("owner refused: %d", resp.StatusCode)
	}
	h.visitor().do(http.MethodGet, "/book/y", "text/plain", nil,
		map[string]string{admission.HeaderName: tok, admission.VisitorSecretHeader: a.cookie(admission.VisitorCookieName)})
	if n := h.hits.Load(); n != 3 {
		t.Fatalf("owner's app refused (%d hits)", n)
	}
}

// TestTokenModeBindsToSiteSession: a token-mode site passes bind=Commitment(its session) and
// the token handed back confirms that session only; the site's middleware (BindSession)
// accepts it with the session and refuses it with any other.
func TestTokenModeBindsToSiteSession(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		return []RoomConfig{{Name: "tix", Mode: "token", ReturnURLs: []string{"https://tickets.example.org/"},
			RatePerMinute: 600, MaxActive: 10, AbsentAfter: 20 * time.Second}}
	}})
	session := "site-session-0123456789abcdefghij"
	q := "?return=" + url.QueryEscape("https://tickets.example.org/seat#top") + "&bind=" + admission.Commitment(session)
	v := h.visitor()
	if resp, _ := v.do(http.MethodGet, "/foyer/rooms/tix"+q, "text/html", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("queue page: %d", resp.StatusCode)
	}
	if resp, _ := v.do(http.MethodGet, "/foyer/rooms/tix?return=x&bind=short", "application/json", nil, nil); resp.StatusCode != 400 {
		t.Fatalf("a malformed bind: %d", resp.StatusCode)
	}
	s := v.waitAdmittedPath("/foyer/v1/rooms/tix/status"+q, 3*time.Second)
	if !strings.HasPrefix(s.Redirect, "https://tickets.example.org/seat?foyer_token=") || !strings.HasSuffix(s.Redirect, "#top") {
		t.Fatalf("redirect %q: the token must come before the fragment", s.Redirect)
	}
	ver, _ := admission.NewVerifier(h.keys, admission.VerifierOptions{Issuer: h.cfg.Tokens.Issuer})
	mw, err := admission.Middleware(admission.MiddlewareConfig{Verifier: ver, Room: "tix",
		BindSession: func(r *http.Request) string { return r.Header.Get("X-Session") }})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	u, _ := url.Parse(s.Redirect)
	for sess, want := range map[string]int{session: 303, "another-session-0123456789abcdefgh": 401, "": 401} {
		req := httptest.NewRequest(http.MethodGet, "https://tickets.example.org"+u.RequestURI(), nil)
		req.Header.Set("X-Session", sess)
		rec := httptest.NewRecorder()
		mw(ok).ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("session %q: %d, want %d", sess, rec.Code, want)
		}
	}
}
