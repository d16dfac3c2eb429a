package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Names shared with the gateway.
const (
	// CookiePrefix starts the name of the cookie that carries a room's admission token: one
	// cookie per room (CookieNameFor), so an admission to one room never evicts another's.
	CookiePrefix = "foyer_admission_"
	// VisitorCookieName is the cookie (HttpOnly) that carries the visitor's secret: the token's
	// cnf is its Commitment. Apps send the secret in VisitorSecretHeader instead.
	VisitorCookieName = "foyer_visitor"
	// HeaderName is the header apps use instead of the cookie (Authorization: Bearer works too).
	HeaderName = "Foyer-Admission"
	// HandoffParam is the query parameter with which foyer sends an admitted visitor back to
	// the site in token mode: "https://shop.example.com/book?foyer_token=<token>".
	HandoffParam = "foyer_token"
	// BindParam is the query parameter of foyer's queue URL (room page, join, status) with
	// which a token-mode site binds the admission to its own session: bind=Commitment(secret).
	BindParam = "bind"
)

// CookieNameFor is the name of the cookie that carries the admission token for room.
func CookieNameFor(room string) string { return CookiePrefix + room }

// MiddlewareConfig configures Middleware and EchoMiddleware. Verifier and one of Room or
// RoomFunc are required.
type MiddlewareConfig struct {
	// Skipper, when it returns true, lets the request through unchecked (health checks,
	// static files, the pages anyone may see).
	Skipper func(r *http.Request) bool
	// Verifier checks the tokens: NewVerifier with a KeySet or a RemoteKeys.
	Verifier *Verifier
	// Room is the waiting room the protected routes belong to.
	Room string
	// RoomFunc, when set, names the room per request instead (a backend selling several
	// screenings, one room each).
	RoomFunc func(r *http.Request) string
	// CookieName is the admission cookie; default CookieNameFor(room).
	CookieName string
	// HandoffParam is the query parameter of token mode's return trip; default HandoffParam;
	// "-" turns the handoff off. A GET or HEAD with a valid token there gets the admission
	// cookie and a redirect to the same URL without the parameter, so the token leaves the
	// address bar, the history and any Referer.
	HandoffParam string
	// BindVisitor refuses a token unless the request carries the secret the token is bound
	// to (its cnf): the visitor cookie, or the Foyer-Visitor-Secret header of apps. A copied
	// token, or a token with anything readable from it, then does not work. Use it where the
	// backend sees foyer's cookies: behind foyer's proxy, or on the same site.
	BindVisitor bool
	// BindSession binds tokens to the site's own session, for token mode (foyer on another
	// site, whose cookies the backend never sees). It returns the request's session secret
	// (for example the session cookie's value), "" when there is none; the token must confirm
	// it (cnf = Commitment(secret)). With RedirectURL, the queue URL carries
	// bind=Commitment(secret) so that foyer binds the token it issues to this session.
	// Checked instead of BindVisitor when set.
	BindSession func(r *http.Request) string
	// VisitorCookieName is the visitor cookie; default VisitorCookieName.
	VisitorCookieName string
	// RedirectURL, when set, sends browsers (GET or HEAD asking for HTML) without a valid
	// token to the queue page instead of answering 401: "{room}" in it is replaced by the room
	// and the URL they asked for is added as the ReturnParam query parameter.
	RedirectURL string
	// ReturnParam is the query parameter carrying the return URL; default "return".
	ReturnParam string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DefaultMiddlewareConfig holds the defaults that zero fields of a MiddlewareConfig take.
var DefaultMiddlewareConfig = MiddlewareConfig{
	HandoffParam:      HandoffParam,
	VisitorCookieName: VisitorCookieName,
	ReturnParam:       "return",
	Now:               time.Now,
}

type ctxKey struct{}

type admitted struct {
	claims Claims
	token  string
}

// NewContext returns a copy of ctx carrying claims and the raw token, as the middleware
// does; for tests of handlers behind the middleware.
func NewContext(ctx context.Context, claims Claims, token string) context.Context {
	return context.WithValue(ctx, ctxKey{}, &admitted{claims, token})
}

// ClaimsFrom returns the claims the middleware verified for this request.
func ClaimsFrom(ctx context.Context) (Claims, bool) {
	a, ok := ctx.Value(ctxKey{}).(*admitted)
	if !ok {
		return Claims{}, false
	}
	return a.claims, true
}

// TokenFrom returns the raw admission token of this request, for ReleaseClient.Release.
func TokenFrom(ctx context.Context) (string, bool) {
	a, ok := ctx.Value(ctxKey{}).(*admitted)
	if !ok {
		return "", false
	}
	return a.token, true
}

// guard is the shared core of Middleware and EchoMiddleware.
type guard struct {
	cfg      MiddlewareConfig
	redirect bool // RedirectURL is set
}

func newGuard(cfg MiddlewareConfig) (*guard, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("admission: middleware needs a Verifier")
	}
	if cfg.Room == "" && cfg.RoomFunc == nil {
		return nil, errors.New("admission: middleware needs Room or RoomFunc")
	}
	d := DefaultMiddlewareConfig
	if cfg.HandoffParam == "" {
		cfg.HandoffParam = d.HandoffParam
	}
	if cfg.VisitorCookieName == "" {
		cfg.VisitorCookieName = d.VisitorCookieName
	}
	if cfg.ReturnParam == "" {
		cfg.ReturnParam = d.ReturnParam
	}
	if cfg.Now == nil {
		cfg.Now = d.Now
	}
	g := &guard{cfg: cfg}
	if cfg.RedirectURL != "" {
		u, err := url.Parse(strings.ReplaceAll(cfg.RedirectURL, "{room}", "room"))
		if err != nil || !(u.IsAbs() && (u.Scheme == "https" || u.Scheme == "http") || !u.IsAbs() && u.Host == "" && strings.HasPrefix(u.Path, "/")) {
			return nil, fmt.Errorf("admission: RedirectURL %q is neither an http(s) URL nor an absolute path", cfg.RedirectURL)
		}
		g.redirect = true
	}
	return g, nil
}

// Middleware returns net/http middleware that lets a request through only with a valid
// admission token for the room, from the admission cookie, "Authorization: Bearer", the
// Foyer-Admission header, or token mode's handoff parameter. The claims and the token are put
// in the request context (ClaimsFrom, TokenFrom). Refusals are JSON
// {"error":{"code":"...","message":"..."}} with status 401 (codes from ErrorCode), or, with
// RedirectURL, a redirect of browsers to the queue page.
func Middleware(cfg MiddlewareConfig) (func(http.Handler) http.Handler, error) {
	g, err := newGuard(cfg)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r2, ok := g.handle(w, r); ok {
				next.ServeHTTP(w, r2)
			}
		})
	}, nil
}

// handle checks r. When it returns true the caller serves r2; otherwise the response (a
// refusal, or the handoff redirect) has been written.
func (g *guard) handle(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if g.cfg.Skipper != nil && g.cfg.Skipper(r) {
		return r, true
	}
	room := g.cfg.Room
	if g.cfg.RoomFunc != nil {
		room = g.cfg.RoomFunc(r)
	}
	now := g.cfg.Now()

	if handoff := g.handoffToken(r); handoff != "" {
		// The redirect goes to this very path, cleaned: never "//host" or anything a browser
		// could read as another origin.
		back, ok := LocalPath(r.URL.Path, StripQueryParam(r.URL.RawQuery, g.cfg.HandoffParam))
		if !ok {
			writeError(w, http.StatusBadRequest, "bad_path", "this address cannot receive an admission")
			return nil, false
		}
		claims, err := g.check(r, handoff, room, now)
		if err != nil {
			g.refuse(w, r, room, err)
			return nil, false
		}
		g.setCookies(w, r, claims, handoff, room, now)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Location", back)
		w.WriteHeader(http.StatusSeeOther)
		return nil, false
	}

	token := g.token(r, room)
	if token == "" {
		g.refuse(w, r, room, ErrMissingToken)
		return nil, false
	}
	claims, err := g.check(r, token, room, now)
	if err != nil {
		g.refuse(w, r, room, err)
		return nil, false
	}
	return r.WithContext(NewContext(r.Context(), claims, token)), true
}

func (g *guard) check(r *http.Request, token, room string, now time.Time) (Claims, error) {
	claims, err := g.cfg.Verifier.Verify(token, room, now)
	if err != nil {
		return Claims{}, err
	}
	switch {
	case g.cfg.BindSession != nil:
		if !claims.Confirms(g.cfg.BindSession(r)) {
			return Claims{}, ErrVisitorMismatch
		}
	case g.cfg.BindVisitor:
		if !claims.Confirms(g.visitorSecret(r)) {
			return Claims{}, ErrVisitorMismatch
		}
	}
	return claims, nil
}

// visitorSecret is the visitor's secret: the Foyer-Visitor-Secret header, else the cookie.
func (g *guard) visitorSecret(r *http.Request) string {
	if h := r.Header.Get(VisitorSecretHeader); h != "" {
		return h
	}
	return cookie(r, g.cfg.VisitorCookieName)
}

// token finds the token: Authorization: Bearer, then Foyer-Admission, then the room's cookie.
func (g *guard) token(r *http.Request, room string) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if h := r.Header.Get(HeaderName); h != "" {
		return h
	}
	return cookie(r, g.cookieName(room))
}

func (g *guard) cookieName(room string) string {
	if g.cfg.CookieName != "" {
		return g.cfg.CookieName
	}
	return CookieNameFor(room)
}

func (g *guard) handoffToken(r *http.Request) string {
	if g.cfg.HandoffParam == "-" || (r.Method != http.MethodGet && r.Method != http.MethodHead) ||
		!strings.Contains(r.URL.RawQuery, g.cfg.HandoffParam) {
		return ""
	}
	return r.URL.Query().Get(g.cfg.HandoffParam)
}

func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (g *guard) setCookies(w http.ResponseWriter, r *http.Request, c Claims, token, room string, now time.Time) {
	secure := isHTTPS(r)
	maxAge := int(c.ExpiresAt.Sub(now) / time.Second)
	if maxAge < 1 {
		maxAge = 1
	}
	http.SetCookie(w, &http.Cookie{Name: g.cookieName(room), Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// withoutParam returns r's URL without the query parameter name.
func (g *guard) withoutParam(r *http.Request, name string) *url.URL {
	u := *r.URL
	u.RawQuery = StripQueryParam(u.RawQuery, name)
	return &u
}

// StripQueryParam returns rawQuery without every occurrence of the parameter name (compared
// after unescaping), the other parameters untouched and in order.
func StripQueryParam(rawQuery, name string) string {
	if rawQuery == "" || !strings.Contains(rawQuery, name) && !strings.Contains(rawQuery, "%") {
		return rawQuery
	}
	var b strings.Builder
	for part := range strings.SplitSeq(rawQuery, "&") {
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name || k == name {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String()
}

// HandoffURL returns returnURL with token as the HandoffParam query parameter: placed before
// any fragment (a fragment never reaches the server), replacing any HandoffParam the URL
// already carries (a planted value must not come first).
func HandoffURL(returnURL, token string) (string, error) {
	u, err := url.Parse(returnURL)
	if err != nil {
		return "", fmt.Errorf("admission: handoff url: %w", err)
	}
	q := StripQueryParam(u.RawQuery, HandoffParam)
	if q != "" {
		q += "&"
	}
	u.RawQuery = q + HandoffParam + "=" + url.QueryEscape(token)
	u.ForceQuery = false
	return u.String(), nil
}

// writeError writes foyer's JSON error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"code": code, "message": msg}})
}

// clientMessages are what a refused client is told; they never echo the token or internals.
var clientMessages = map[string]string{
	"admission_required":  "an admission token is required: join the waiting room first",
	"token_expired":       "your admission has expired",
	"token_not_yet_valid": "your admission is not valid yet",
	"token_wrong_room":    "this admission is for another room",
	"visitor_mismatch":    "this admission is bound to another visitor or session",
}

func (g *guard) refuse(w http.ResponseWriter, r *http.Request, room string, err error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if g.redirect && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, g.queueURL(r, room), http.StatusSeeOther)
		return
	}
	code := ErrorCode(err)
	msg, ok := clientMessages[code]
	if !ok {
		msg = "the admission token is not valid"
	}
	if errors.Is(err, ErrMissingToken) {
		h.Set("WWW-Authenticate", `Bearer realm="foyer"`)
	} else {
		h.Set("WWW-Authenticate", `Bearer realm="foyer", error="invalid_token"`)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"code": code, "message": msg}})
}

// queueURL is RedirectURL for room with the URL the visitor asked for as return parameter.
func (g *guard) queueURL(r *http.Request, room string) string {
	u, err := url.Parse(strings.ReplaceAll(g.cfg.RedirectURL, "{room}", url.PathEscape(room)))
	if err != nil { // checked by newGuard; a room cannot break it after escaping
		u = &url.URL{Path: "/"}
	}
	back := g.withoutParam(r, g.cfg.HandoffParam)
	back.Scheme, back.Host = "http", r.Host
	if isHTTPS(r) {
		back.Scheme = "https"
	}
	q := u.Query()
	q.Set(g.cfg.ReturnParam, back.String())
	if g.cfg.BindSession != nil {
		if sess := g.cfg.BindSession(r); sess != "" {
			q.Set(BindParam, Commitment(sess))
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
