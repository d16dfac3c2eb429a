package admission

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

func TestEchoMiddleware(t *testing.T) {
	f := newMWFixture(t)
	mw, err := EchoMiddleware(MiddlewareConfig{Verifier: f.v, Room: testRoom, BindVisitor: true,
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.GET("/book", func(c echo.Context) error {
		cl, ok := ClaimsFrom(c.Request().Context())
		if !ok {
			return c.String(http.StatusInternalServerError, "no claims")
		}
		return c.String(http.StatusOK, cl.Visitor+" "+cl.JTI)
	}, mw)

	tests := []struct {
		name     string
		target   string
		cookies  map[string]string
		status   int
		code     string
		location string
		body     string
	}{
		{"no token", "/book", nil, 401, "admission_required", "", ""},
		{"valid and bound", "/book", map[string]string{CookieNameFor(testRoom): f.good, VisitorCookieName: testVisitorSecret}, 200, "", "", testVisitor + " " + testJTI},
		{"another visitor's token", "/book", map[string]string{CookieNameFor(testRoom): f.otherVisitor, VisitorCookieName: testVisitorSecret}, 401, "visitor_mismatch", "", ""},
		{"expired", "/book", map[string]string{CookieNameFor(testRoom): f.expired, VisitorCookieName: testVisitorSecret}, 401, "token_expired", "", ""},
		{"handoff", "/book?" + HandoffParam + "=" + f.good, map[string]string{VisitorCookieName: testVisitorSecret}, 303, "", "/book", ""},
		{"handoff without the secret", "/book?" + HandoffParam + "=" + f.good, nil, 401, "visitor_mismatch", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			for k, v := range tt.cookies {
				req.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			checkResponse(t, rec, tt.status, tt.code, tt.location, nil, false)
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Fatalf("body = %q, want %q", rec.Body, tt.body)
			}
		})
	}
	if _, err := EchoMiddleware(MiddlewareConfig{}); err == nil {
		t.Fatal("empty config accepted")
	}
}
