package admission

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type mwFixture struct {
	ks                                     *KeySet
	v                                      *Verifier
	good, expired, otherRoom, otherVisitor string
}

func newMWFixture(t *testing.T) mwFixture {
	t.Helper()
	ks := mustKeySet(t, testEdKey(t, "ed"))
	f := mwFixture{ks: ks, v: mustVerifier(t, ks, VerifierOptions{})}
	f.good = mustIssue(t, ks, testClaims())
	c := testClaims()
	c.IssuedAt, c.ExpiresAt = testNow.Add(-time.Hour), testNow.Add(-30*time.Minute)
	f.expired = mustIssue(t, ks, c)
	c = testClaims()
	c.Room = "other-room"
	f.otherRoom = mustIssue(t, ks, c)
	c = testClaims()
	c.Visitor, c.Confirmation = "someone-else", Commitment("someone-elses-secret-0123456789abcdef")
	f.otherVisitor = mustIssue(t, ks, c)
	return f
}

// echoClaims is the protected handler: it answers with what the middleware gave it.
var echoClaims = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := ClaimsFrom(r.Context())
	tok, _ := TokenFrom(r.Context())
	json.NewEncoder(w).Encode(map[string]any{"ok": ok, "room": c.Room, "visitor": c.Visitor, "jti": c.JTI, "token_len": len(tok)})
})

func TestMiddleware(t *testing.T) {
	f := newMWFixture(t)
	now := func() time.Time { return testNow }
	base := MiddlewareConfig{Verifier: f.v, Room: testRoom, Now: now}
	withCfg := func(edit func(*MiddlewareConfig)) MiddlewareConfig {
		c := base
		edit(&c)
		return c
	}
	bind := withCfg(func(c *MiddlewareConfig) { c.BindVisitor = true })
	redirect := withCfg(func(c *MiddlewareConfig) {
		c.RedirectURL = "https://queue.example.com/foyer/rooms/{room}"
	})
	html := "text/html,application/xhtml+xml,*/*;q=0.8"

	type given struct {
		method, target string
		cookies        map[string]string
		headers        map[string]string
	}
	type expect struct {
		status    int
		code      string // error code of a 401
		location  string // for redirects, a prefix
		cookies   []string
		visitor   string // what the handler saw
		noCookies bool
	}
	tests := []struct {
		name  string
		cfg   MiddlewareConfig
		given given
		want  expect
	}{
		{"no token", base, given{target: "/book"}, expect{status: 401, code: "admission_required"}},
		{"cookie", base, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): f.good}}, expect{status: 200, visitor: testVisitor}},
		{"bearer", base, given{target: "/book", headers: map[string]string{"Authorization": "Bearer " + f.good}}, expect{status: 200, visitor: testVisitor}},
		{"bearer lower case", base, given{target: "/book", headers: map[string]string{"Authorization": "bearer " + f.good}}, expect{status: 200, visitor: testVisitor}},
		{"Foyer-Admission header", base, given{target: "/book", headers: map[string]string{HeaderName: f.good}}, expect{status: 200, visitor: testVisitor}},
		{"basic auth is not ours, the cookie is", base, given{target: "/book", headers: map[string]string{"Authorization": "Basic dTpw"}, cookies: map[string]string{CookieNameFor(testRoom): f.good}}, expect{status: 200, visitor: testVisitor}},
		{"expired", base, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): f.expired}}, expect{status: 401, code: "token_expired"}},
		{"other room", base, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): f.otherRoom}}, expect{status: 401, code: "token_wrong_room"}},
		{"garbage", base, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): "a.b.c"}}, expect{status: 401, code: "token_malformed"}},
		{"bound: visitor matches", bind, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): f.good, VisitorCookieName: testVisitorSecret}}, expect{status: 200, visitor: testVisitor}},
		{"bound: secret in the app header", bind, given{target: "/book", headers: map[string]string{HeaderName: f.good, VisitorSecretHeader: testVisitorSecret}}, expect{status: 200, visitor: testVisitor}},
		{"bound: other visitor", bind, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): f.otherVisitor, VisitorCookieName: testVisitorSecret}}, expect{status: 401, code: "visitor_mismatch"}},
		{"bound: the token's sub as visitor cookie", bind, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): f.good, VisitorCookieName: testVisitor}}, expect{status: 401, code: "visitor_mismatch"}},
		{"bound: the token's cnf as visitor secret", bind, given{target: "/book", headers: map[string]string{HeaderName: f.good, VisitorSecretHeader: Commitment(testVisitorSecret)}}, expect{status: 401, code: "visitor_mismatch"}},
		{"bound to the site session", withCfg(func(c *MiddlewareConfig) {
			c.BindSession = func(r *http.Request) string { return r.Header.Get("X-Session") }
		}), given{target: "/book", headers: map[string]string{HeaderName: f.good, "X-Session": testVisitorSecret}}, expect{status: 200, visitor: testVisitor}},
		{"bound to another site session", withCfg(func(c *MiddlewareConfig) {
			c.BindSession = func(r *http.Request) string { return r.Header.Get("X-Session") }
		}), given{target: "/book", headers: map[string]string{HeaderName: f.good, "X-Session": "another-session-0123456789abcdef"}}, expect{status: 401, code: "visitor_mismatch"}},
		{"bound to the site session, no session", withCfg(func(c *MiddlewareConfig) {
			c.BindSession = func(r *http.Request) string { return "" }
		}), given{target: "/book", headers: map[string]string{HeaderName: f.good}}, expect{status: 401, code: "visitor_mismatch"}},
		{"bound: no visitor cookie", bind, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): f.good}}, expect{status: 401, code: "visitor_mismatch"}},
		{"unbound: other visitor passes", base, given{target: "/book", cookies: map[string]string{CookieNameFor(testRoom): f.otherVisitor, VisitorCookieName: testVisitorSecret}}, expect{status: 200, visitor: "someone-else"}},
		{"skipped", withCfg(func(c *MiddlewareConfig) {
			c.Skipper = func(r *http.Request) bool { return r.URL.Path == "/healthz" }
		}), given{target: "/healthz"}, expect{status: 200}},
		{"room per request", withCfg(func(c *MiddlewareConfig) {
			c.Room, c.RoomFunc = "", func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/screening/") }
		}), given{target: "/screening/" + testRoom, cookies: map[string]string{CookieNameFor(testRoom): f.good}}, expect{status: 200, visitor: testVisitor}},
		{"room per request, other room", withCfg(func(c *MiddlewareConfig) {
			c.Room, c.RoomFunc = "", func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/screening/") }
		}), given{target: "/screening/other", headers: map[string]string{"Authorization": "Bearer " + f.good}}, expect{status: 401, code: "token_wrong_room"}},
		{"browser redirected to the queue", redirect, given{target: "/book?seat=12", headers: map[string]string{"Accept": html}},
			expect{status: 303, location: "https://queue.example.com/foyer/rooms/biff-2026?return=" + url.QueryEscape("http://shop.example/book?seat=12")}},
		{"browser with expired token redirected", redirect, given{target: "/book", headers: map[string]string{"Accept": html}, cookies: map[string]string{CookieNameFor(testRoom): f.expired}},
			expect{status: 303, location: "https://queue.example.com/foyer/rooms/biff-2026?return="}},
		{"API call gets JSON even with RedirectURL", redirect, given{target: "/api/seats", headers: map[string]string{"Accept": "application/json"}}, expect{status: 401, code: "admission_required"}},
		{"POST gets JSON even with RedirectURL", redirect, given{method: "POST", target: "/book", headers: map[string]string{"Accept": html}}, expect{status: 401, code: "admission_required"}},
		{"handoff sets the cookie and strips the token", base, given{target: "/book?seat=12&" + HandoffParam + "=" + f.good},
			expect{status: 303, location: "/book?seat=12", cookies: []string{CookieNameFor(testRoom) + "=" + f.good, "HttpOnly", "SameSite=Lax", "Max-Age=600"}}},
		{"handoff behind TLS sets a Secure cookie", base, given{target: "/book?" + HandoffParam + "=" + f.good, headers: map[string]string{"X-Forwarded-Proto": "https"}},
			expect{status: 303, location: "/book", cookies: []string{CookieNameFor(testRoom) + "=", "Secure"}}},
		{"handoff to a browser without the secret", bind, given{target: "/book?" + HandoffParam + "=" + f.good},
			expect{status: 401, code: "visitor_mismatch", noCookies: true}},
		{"handoff to the browser holding the secret", bind, given{target: "/book?" + HandoffParam + "=" + f.good, cookies: map[string]string{VisitorCookieName: testVisitorSecret}},
			expect{status: 303, location: "/book", cookies: []string{CookieNameFor(testRoom) + "=" + f.good}}},
		{"handoff to a browser of another visitor", bind, given{target: "/book?" + HandoffParam + "=" + f.good, cookies: map[string]string{VisitorCookieName: "someone-elses-secret-0123456789abcdef"}},
			expect{status: 401, code: "visitor_mismatch", noCookies: true}},
		{"handoff with an expired token", base, given{target: "/book?" + HandoffParam + "=" + f.expired}, expect{status: 401, code: "token_expired", noCookies: true}},
		{"handoff to a protocol-relative path is refused", base, given{target: "//evil.example/x?" + HandoffParam + "=" + f.good},
			expect{status: 400, noCookies: true}},
		{"handoff path with a backslash is refused", base, given{target: "/%5Cevil.example/x?" + HandoffParam + "=" + f.good},
			expect{status: 400, noCookies: true}},
		{"handoff path is cleaned", base, given{target: "/shop/../book?" + HandoffParam + "=" + f.good + "&seat=1"},
			expect{status: 303, location: "/book?seat=1"}},
		{"handoff path climbing above the root is refused", base, given{target: "/../../book?" + HandoffParam + "=" + f.good},
			expect{status: 400, noCookies: true}},
		{"another room's cookie does not count", base, given{target: "/book", cookies: map[string]string{CookieNameFor("other-room"): f.good}},
			expect{status: 401, code: "admission_required"}},
		{"handoff turned off", withCfg(func(c *MiddlewareConfig) { c.HandoffParam = "-" }), given{target: "/book?" + HandoffParam + "=" + f.good}, expect{status: 401, code: "admission_required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := Middleware(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			method := tt.given.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "http://shop.example"+tt.given.target, nil)
			for k, v := range tt.given.headers {
				req.Header.Set(k, v)
			}
			for k, v := range tt.given.cookies {
				req.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			rec := httptest.NewRecorder()
			mw(echoClaims).ServeHTTP(rec, req)
			checkResponse(t, rec, tt.want.status, tt.want.code, tt.want.location, tt.want.cookies, tt.want.noCookies)
			if tt.want.status == 200 {
				var got map[string]any
				json.Unmarshal(rec.Body.Bytes(), &got)
				if tt.want.visitor != "" && (got["visitor"] != tt.want.visitor || got["ok"] != true || got["token_len"].(float64) == 0) {
					t.Fatalf("handler saw %v, want visitor %q", got, tt.want.visitor)
				}
			}
		})
	}
}

func checkResponse(t *testing.T, rec *httptest.ResponseRecorder, status int, code, location string, cookies []string, noCookies bool) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if code != "" {
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		if body.Error.Code != code || body.Error.Message == "" {
			t.Fatalf("error = %+v, want code %q", body.Error, code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type = %q", ct)
		}
		if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
		}
		if strings.Contains(rec.Body.String(), "eyJ") {
			t.Fatalf("refusal echoes a token: %s", rec.Body)
		}
	}
	if status >= 300 && status != 200 && rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
	}
	if location != "" && !strings.HasPrefix(rec.Header().Get("Location"), location) {
		t.Fatalf("Location = %q, want prefix %q", rec.Header().Get("Location"), location)
	}
	set := strings.Join(rec.Header().Values("Set-Cookie"), "\n")
	for _, c := range cookies {
		if !strings.Contains(set, c) {
			t.Fatalf("Set-Cookie %q lacks %q", set, c)
		}
	}
	if noCookies && set != "" {
		t.Fatalf("cookies set on a refusal: %q", set)
	}
}

func TestMiddlewareConfigErrors(t *testing.T) {
	v := mustVerifier(t, mustKeySet(t, testEdKey(t, "ed")), VerifierOptions{})
	for name, cfg := range map[string]MiddlewareConfig{
		"no verifier":          {Room: testRoom},
		"no room":              {Verifier: v},
		"relative redirect":    {Verifier: v, Room: testRoom, RedirectURL: "queue"},
		"javascript redirect":  {Verifier: v, Room: testRoom, RedirectURL: "javascript:alert(1)"},
		"scheme-less redirect": {Verifier: v, Room: testRoom, RedirectURL: "//evil.example/x"},
	} {
		if _, err := Middleware(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
