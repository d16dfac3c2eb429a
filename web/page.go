package web

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // rooms name IANA zones; a static binary in a scratch image has no zoneinfo
)

// Status is the visitor's status as the page shows it: the gateway's status
// JSON (see the package doc) in Go types.
type Status struct {
	State        string        // scheduled, prequeue, open, paused, closed, sold_out
	Place        int64         // 1 = next in; 0 when unknown (pre-queue)
	Ahead        int64         // people ahead
	JoinedPlace  int64         // place when the visitor joined; the progress bar's start
	ETALow       time.Duration // estimated wait, low end
	ETAHigh      time.Duration // estimated wait, high end
	PollAfter    time.Duration // when to ask again; 0 means 5 s
	Admitted     bool          // may go in now
	Redirect     string        // where to go when admitted (same-origin path or http(s) URL)
	OpensAt      time.Time     // opening time; zero when not scheduled
	UpdatedAt    time.Time     // when the gateway computed this status
	Reconnecting bool          // the gateway cannot reach its store; place is the last known
	// Position is the ticket's position in the room's order; the page keys what it remembers
	// of the ticket (place at join, best place shown) by it. 0 when unknown.
	Position int64
	// Stalled says why a waiting line does not move: "" (it moves), "sessions" (the active
	// cap is full and sessions are not ending: no time estimate) or "paused".
	Stalled string
	// Returning: the visitor was skipped while away and is back in the returning lane; the
	// place is real.
	Returning bool
	// Notice is "place_rose" when the gateway had to raise the visitor's place (a data
	// loss); the page says so instead of showing a silent jump.
	Notice string
	// Reentry: the visitor's booking failed and they have a second chance: waiting in the
	// re-entry line (ahead of everyone still waiting), or, with Admitted, going back in.
	Reentry bool
	// PrequeueNumber is the visitor's pre-queue ticket number (0: not in the pre-queue), shown
	// with a link to check their shuffled place on the fairness page.
	PrequeueNumber int64
	// AskFeedback: the visitor's session ended; the page asks how the wait was (it also asks
	// when the sale is closed or sold out).
	AskFeedback bool
}

// Theme is a room's look. Colours are "#rgb" or "#rrggbb"; anything else is
// ignored (Theme.Check reports it). Buttons use Background as text on Accent.
type Theme struct {
	LogoURL    string // optional logo shown beside the name (relative or https)
	Accent     string // links, buttons, progress; default #1f5c99
	Background string // page background; default #f7f5f0
	Text       string // body text; default #1c2230
}

// QueuePageData is what the queue page is rendered from.
type QueuePageData struct {
	Room        string // room name as in URLs ([a-z0-9-]{1,64})
	DisplayName string // heading; default Room
	// DisplayNames is the heading per language ("en", "ko"); a language it lacks uses
	// DisplayName.
	DisplayNames map[string]string
	// Texts replaces queue-page messages for this room, per language and catalogue key
	// ({"ko": {"q_closed_body": "..."}}); see CheckRoomTexts.
	Texts       map[string]map[string]string
	Lang        string // "en" or "ko" (see RequestLang); anything else is English
	TimeZone    string // IANA zone of the room ("Asia/Seoul"); default UTC
	Prefix      string // foyer's path prefix; default "/foyer"
	HasTicket   bool   // false: the page's script POSTs JoinURL before polling
	Status      Status // the current status, so the page is right before any script runs
	StatusURL   string // default {Prefix}/v1/rooms/{Room}/status
	JoinURL     string // default {Prefix}/v1/rooms/{Room}/join
	FairnessURL string // default {Prefix}/v1/rooms/{Room}/fairness
	HomeURL     string // optional organiser site, linked when the sale is closed
	Theme       Theme
	// NoScriptRefresh is how often the page reloads itself when scripts are
	// off; default Status.PollAfter, clamped to 5 s..60 s.
	NoScriptRefresh time.Duration
	Nonce           string    // CSP nonce of the inline theme style; the Serve methods fill it
	Now             time.Time // render time (countdown); default time.Now()
}

// ErrorPageData is what the browser error page is rendered from.
type ErrorPageData struct {
	Lang   string
	Status int // HTTP status; shown small, and picks Code when Code is empty
	// Code picks the words: bad_request, not_found, rate_limited,
	// unavailable (foyer's store), backend_unavailable, internal.
	Code        string
	Prefix      string // default "/foyer"
	DisplayName string // room or site name; optional
	// DisplayNames is the name per language, as in QueuePageData.
	DisplayNames map[string]string
	Theme        Theme
	RetryURL     string        // the "Try again" link; default the current page
	RetryAfter   time.Duration // > 0: the page reloads itself after this long
	RequestID    string        // shown as a reference for support; optional
	HomeURL      string        // optional
	Nonce        string
}

// DashboardData is what the organisers' dashboard page is rendered from.
type DashboardData struct {
	Lang    string
	Prefix  string // foyer's path prefix for static files; default "/foyer"
	APIBase string // admin API base; default {Prefix}/admin/v1
	Nonce   string
	// Gzip: the client accepts gzip (Accept-Encoding); ServeDashboard then sends the page
	// compressed. The page holds no secret (the token stays in the browser) and reflects
	// nothing from the request but the language, so compressing it leaks nothing.
	Gzip bool
}

// Panels of the queue page; exactly one is visible.
const (
	panelJoining = "joining"
	panelPre     = "pre"
	panelWait    = "wait"
	panelTurn    = "turn"
	panelPaused  = "paused"
	panelClosed  = "closed"
	panelSoldOut = "soldout"
)

// panelFor mirrors panel() in queue.js.
func panelFor(s Status, hasTicket bool) string {
	switch {
	case s.Admitted:
		return panelTurn
	case s.State == "sold_out":
		return panelSoldOut
	case s.State == "closed":
		return panelClosed
	case !hasTicket:
		return panelJoining
	case s.State == "scheduled" || s.State == "prequeue":
		return panelPre
	case s.State == "paused" || s.Stalled == "paused":
		return panelPaused
	}
	return panelWait
}

type langLink struct {
	Code, Name, Href string
	Current          bool
}

// base is the part of every page's view the partials use.
type base struct {
	Lang      string
	Name      string
	Title     string
	CSS       string
	JS        string
	ThemeCSS  template.CSS
	Nonce     string
	LogoURL   string
	LangLinks []langLink
	Refresh   string // noscript meta refresh content; empty: none
	cat       catalog
}

// T returns the message key in the page's language with {name} placeholders
// filled from name/value pairs.
func (b *base) T(key string, args ...any) string {
	ss := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			ss[i] = v
		case int:
			ss[i] = formatInt(int64(v))
		case int64:
			ss[i] = formatInt(v)
		default:
			ss[i] = fmt.Sprint(v)
		}
	}
	return b.cat.text(key, ss...)
}

func (s *Site) base(lang, name, prefix string, th Theme, nonce string, js string) base {
	lang = normLang(lang)
	b := base{
		Lang: lang, Name: name, Nonce: nonce, cat: s.catalogs[lang],
		CSS:      s.assets.url(prefix, "foyer.css"),
		ThemeCSS: th.css(),
		LogoURL:  safeURL(th.LogoURL, false),
	}
	if js != "" {
		b.JS = s.assets.url(prefix, js)
	}
	for _, l := range langs {
		b.LangLinks = append(b.LangLinks, langLink{
			Code: l, Name: b.cat.text("lang_name_" + l), Href: "?" + LangQueryParam + "=" + l, Current: l == lang,
		})
	}
	return b
}

type queueView struct {
	base
	Room, Panel                             string
	Scheduled, Final, Stalled, Returning    bool
	Place, Ahead, ETA                       string
	ProgressDone, ProgressTotal, ProgressPc int64
	Updated, UpdatedISO                     string
	Opens, OpensISO, Zone, Countdown        string
	Recon                                   bool
	Redirect, FairnessURL, HomeURL          string
	RefreshSeconds                          int
	Boot                                    queueBoot
	// ReentryWait, ReentryTurn: a second chance, waiting in its line or going back in.
	ReentryWait, ReentryTurn bool
	// issue 14: the pre-queue number and the link that checks it
	PQN, VerifyURL string
}

// queueBoot is handed to queue.js as JSON.
type queueBoot struct {
	Room      string            `json:"room"`
	Lang      string            `json:"lang"`
	TZ        string            `json:"tz"`
	Zone      string            `json:"zone"`
	StatusURL string            `json:"statusURL"`
	JoinURL   string            `json:"joinURL"`
	HasTicket bool              `json:"hasTicket"`
	Status    statusJSON        `json:"status"`
	Msgs      map[string]string `json:"msgs"`
}

// statusJSON is the gateway's status JSON shape, so queue.js handles one shape.
type statusJSON struct {
	Room         string  `json:"room"`
	State        string  `json:"state"`
	Place        int64   `json:"place"`
	Ahead        int64   `json:"ahead"`
	JoinedPlace  int64   `json:"joined_place"`
	ETA          etaJSON `json:"eta_seconds"`
	PollAfterMS  int64   `json:"poll_after_ms"`
	Admitted     bool    `json:"admitted"`
	Redirect     string  `json:"redirect"`
	OpensAt      string  `json:"opens_at,omitempty"`
	UpdatedAt    string  `json:"updated_at,omitempty"`
	Reconnecting bool    `json:"reconnecting"`
	Position     int64   `json:"position,omitempty"`
	Stalled      string  `json:"stalled,omitempty"`
	Returning    bool    `json:"returning,omitempty"`
	Notice       string  `json:"notice,omitempty"`
	Reentry      bool    `json:"reentry,omitempty"`
	// issue 14
	PrequeueNumber int64 `json:"prequeue_number,omitempty"`
	AskFeedback    bool  `json:"ask_feedback,omitempty"`
}

type etaJSON struct {
	Low  int64 `json:"low"`
	High int64 `json:"high"`
}

var locations sync.Map // zone name -> *time.Location

func location(name string) (*time.Location, string) {
	if name == "" {
		name = "UTC"
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), name
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC, "UTC"
	}
	locations.Store(name, l)
	return l, name
}

func (s *Site) queueView(d QueuePageData) *queueView {
	prefix := cleanPrefix(d.Prefix)
	name := pickName(d.DisplayNames, d.Lang, d.DisplayName, d.Room)
	roomPath := prefix + "/v1/rooms/" + url.PathEscape(d.Room)
	def := func(v, dflt string) string {
		if v == "" {
			return dflt
		}
		return v
	}
	now := d.Now
	if now.IsZero() {
		now = time.Now()
	}
	loc, tz := location(d.TimeZone)
	st := d.Status
	v := &queueView{
		base:        s.base(d.Lang, name, prefix, d.Theme, d.Nonce, "queue.js"),
		Room:        d.Room,
		Panel:       panelFor(st, d.HasTicket),
		Recon:       st.Reconnecting,
		Redirect:    safeURL(st.Redirect, true),
		FairnessURL: def(d.FairnessURL, roomPath+"/fairness"),
		HomeURL:     safeURL(d.HomeURL, true),
	}
	v.cat = v.cat.withTexts(d.Texts[v.Lang])
	c := v.cat
	v.Title = c.text("q_title") + " · " + name
	v.Scheduled = st.State == "scheduled"
	v.Final = v.Panel == panelClosed || v.Panel == panelSoldOut
	v.Stalled = st.Stalled == "sessions" && v.Panel == panelWait
	v.Returning = st.Returning && (v.Panel == panelWait || v.Panel == panelPaused)
	v.ReentryWait = st.Reentry && (v.Panel == panelWait || v.Panel == panelPaused)
	v.ReentryTurn = st.Reentry && v.Panel == panelTurn
	v.Place, v.Ahead = formatInt(st.Place), formatInt(st.Ahead)
	v.ETA = formatETA(c, st.ETALow, st.ETAHigh)
	if st.Stalled == "sessions" {
		v.ETA = c.text("qjs_stalled_eta") // no number from a line that does not move
	}
	v.ProgressDone, v.ProgressTotal = progress(st.JoinedPlace, st.Place)
	v.ProgressPc = v.ProgressDone * 100 / v.ProgressTotal
	upd := st.UpdatedAt
	if upd.IsZero() {
		upd = now
	}
	v.Updated, v.UpdatedISO = formatClock(v.Lang, upd.In(loc)), upd.UTC().Format(time.RFC3339)
	if !st.OpensAt.IsZero() {
		o := st.OpensAt.In(loc)
		v.Opens, v.OpensISO, v.Zone = formatDateTime(v.Lang, o), o.Format(time.RFC3339), zoneLabel(o)
		v.Countdown = formatCountdown(c, st.OpensAt.Sub(now))
	} else {
		v.Zone = zoneLabel(now.In(loc))
	}
	poll := st.PollAfter
	if poll <= 0 {
		poll = 5 * time.Second
	}
	refresh := d.NoScriptRefresh
	if refresh <= 0 {
		refresh = poll
	}
	refresh = min(max(refresh, 5*time.Second), 60*time.Second)
	v.RefreshSeconds = int(refresh / time.Second)
	switch {
	case v.ReentryTurn && v.Redirect != "":
		v.Refresh = "5;url=" + v.Redirect // time to read why they are going back in
	case v.Panel == panelTurn && v.Redirect != "":
		v.Refresh = "0;url=" + v.Redirect
	case !v.Final:
		v.Refresh = fmt.Sprint(v.RefreshSeconds)
	}
	v.Boot = queueBoot{
		Room: d.Room, Lang: v.Lang, TZ: tz, Zone: v.Zone,
		StatusURL: def(d.StatusURL, roomPath+"/status"),
		JoinURL:   def(d.JoinURL, roomPath+"/join"),
		HasTicket: d.HasTicket,
		Msgs:      c.subset("qjs_"),
		Status: statusJSON{
			Room: d.Room, State: st.State, Place: st.Place, Ahead: st.Ahead, JoinedPlace: st.JoinedPlace,
			ETA:         etaJSON{Low: int64(st.ETALow / time.Second), High: int64(st.ETAHigh / time.Second)},
			PollAfterMS: int64(poll / time.Millisecond), Admitted: st.Admitted, Redirect: v.Redirect,
			Reconnecting: st.Reconnecting, Position: st.Position, Stalled: st.Stalled,
			Returning: st.Returning, Notice: st.Notice, Reentry: st.Reentry,
		},
	}
	v.Boot.Status.PrequeueNumber, v.Boot.Status.AskFeedback = st.PrequeueNumber, st.AskFeedback // issue 14
	if st.PrequeueNumber > 0 {
		v.PQN = formatInt(st.PrequeueNumber)
	}
	v.VerifyURL = v.FairnessURL + "#n=" + fmt.Sprint(st.PrequeueNumber)
	if st.Position > 0 {
		v.VerifyURL += "&pos=" + fmt.Sprint(st.Position)
	}

	if !st.OpensAt.IsZero() {
		v.Boot.Status.OpensAt = st.OpensAt.Format(time.RFC3339)
	}
	if !st.UpdatedAt.IsZero() {
		v.Boot.Status.UpdatedAt = st.UpdatedAt.Format(time.RFC3339)
	}
	return v
}

// QueuePage renders the queue page for d to w.
func (s *Site) QueuePage(w io.Writer, d QueuePageData) error {
	return s.pages[tmplQueue].Execute(w, s.queueView(d))
}

type errorView struct {
	base
	Status                        int
	Heading, Body, Retry, HomeURL string
	RetryIn, RequestID            string
}

var errorCodes = map[string]bool{
	"bad_request": true, "not_found": true, "rate_limited": true,
	"unavailable": true, "backend_unavailable": true, "internal": true,
}

// errorCode picks the words for an error page.
func errorCode(code string, status int) string {
	if errorCodes[code] {
		return code
	}
	switch {
	case status == http.StatusNotFound:
		return "not_found"
	case status == http.StatusTooManyRequests:
		return "rate_limited"
	case status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return "backend_unavailable"
	case status == http.StatusServiceUnavailable:
		return "unavailable"
	case status >= 400 && status < 500:
		return "bad_request"
	}
	return "internal"
}

func (s *Site) errorView(d ErrorPageData) *errorView {
	prefix := cleanPrefix(d.Prefix)
	name := pickName(d.DisplayNames, d.Lang, d.DisplayName, "")
	v := &errorView{base: s.base(d.Lang, name, prefix, d.Theme, d.Nonce, ""), Status: d.Status}
	code := errorCode(d.Code, d.Status)
	c := v.cat
	v.Heading = c.text("err_" + code + "_title")
	v.Body = c.text("err_" + code + "_body")
	v.Title = v.Heading
	if name != "" {
		v.Title += " · " + name
	}
	v.Retry = safeURL(d.RetryURL, true)
	v.HomeURL = safeURL(d.HomeURL, true)
	v.RequestID = d.RequestID
	if d.RetryAfter > 0 {
		sec := int((d.RetryAfter + time.Second - 1) / time.Second)
		v.RetryIn = c.text("err_retry_in", "seconds", formatInt(int64(sec)))
		// The reload waits up to half as long again: a crowd behind one address, refused
		// together, does not come back in the same second.
		v.Refresh = fmt.Sprint(sec + mrand.IntN(sec/2+1))
		if v.Retry != "" {
			v.Refresh += ";url=" + v.Retry
		}
	}
	return v
}

// ErrorPage renders the browser error page for d to w.
func (s *Site) ErrorPage(w io.Writer, d ErrorPageData) error {
	return s.pages[tmplError].Execute(w, s.errorView(d))
}

type dashView struct {
	base
	Boot dashBoot
	// Panels are the dashboard's panel scripts (web/static/dash-<panel>.js), loaded after dash.js.
	Panels []string
}

// dashPanels are the panel scripts every dashboard loads, each in its own file.
var dashPanels = []string{"dash-history.js", "dash-forecast.js", "dash-outcomes.js", "dash-feedback.js", "dash-rooms.js"}

type dashBoot struct {
	API  string            `json:"api"`
	Lang string            `json:"lang"`
	Msgs map[string]string `json:"msgs"`
}

func (s *Site) dashView(d DashboardData) *dashView {
	prefix := cleanPrefix(d.Prefix)
	v := &dashView{base: s.base(d.Lang, "foyer", prefix, Theme{}, d.Nonce, "dash.js")}
	v.CSS = s.assets.url(prefix, "dash.css")
	v.Title = v.cat.text("d_title")
	api := d.APIBase
	if api == "" {
		api = prefix + "/admin/v1"
	}
	v.Boot = dashBoot{API: strings.TrimRight(api, "/"), Lang: v.Lang, Msgs: v.cat.subset("djs_")}
	for _, p := range dashPanels {
		v.Panels = append(v.Panels, s.assets.url(prefix, p))
	}
	return v
}

// DashboardPage renders the organisers' dashboard page for d to w.
func (s *Site) DashboardPage(w io.Writer, d DashboardData) error {
	return s.pages[tmplDashboard].Execute(w, s.dashView(d))
}

// ServeQueuePage renders d with a fresh CSP nonce (unless d.Nonce is set),
// sets the page headers (SetPageHeaders) and writes it with the given
// status code. On a render error nothing is written and the error is
// returned.
func (s *Site) ServeQueuePage(w http.ResponseWriter, code int, d QueuePageData) error {
	if d.Nonce == "" {
		d.Nonce = NewNonce()
	}
	return serve(w, code, d.Nonce, func(b io.Writer) error { return s.QueuePage(b, d) })
}

// ServeErrorPage is ServeQueuePage for the error page; code 0 means
// d.Status (and 500 when that is 0 too). A Retry-After header is set when
// d.RetryAfter is positive.
func (s *Site) ServeErrorPage(w http.ResponseWriter, code int, d ErrorPageData) error {
	if code == 0 {
		code = d.Status
	}
	if code == 0 {
		code = http.StatusInternalServerError
	}
	if d.Status == 0 {
		d.Status = code
	}
	if d.Nonce == "" {
		d.Nonce = NewNonce()
	}
	if d.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int((d.RetryAfter+time.Second-1)/time.Second)))
	}
	return serve(w, code, d.Nonce, func(b io.Writer) error { return s.ErrorPage(b, d) })
}

// ServeDashboard is ServeQueuePage for the dashboard page (status 200).
func (s *Site) ServeDashboard(w http.ResponseWriter, d DashboardData) error {
	if d.Nonce == "" {
		d.Nonce = NewNonce()
	}
	if !d.Gzip {
		return serve(w, http.StatusOK, d.Nonce, func(b io.Writer) error { return s.DashboardPage(b, d) })
	}
	// The dashboard's first load is held to DESIGN's 30 KB transferred (TestDashboardBudget):
	// its HTML carries the script strings of every panel, so it is sent gzipped like the
	// static files.
	w.Header().Add("Vary", "Accept-Encoding")
	w.Header().Set("Content-Encoding", "gzip")
	return serve(w, http.StatusOK, d.Nonce, func(b io.Writer) error {
		z := gzip.NewWriter(b)
		if err := s.DashboardPage(z, d); err != nil {
			return err
		}
		return z.Close()
	})
}

func serve(w http.ResponseWriter, code int, nonce string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return fmt.Errorf("web: render: %w", err)
	}
	SetPageHeaders(w.Header(), nonce)
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(code)
	_, err := w.Write(buf.Bytes())
	return err
}

// SetPageHeaders sets the headers every foyer HTML page needs: HTML content
// type, Cache-Control no-store (a page carries one visitor's place), and a
// Content-Security-Policy that allows only same-origin scripts, styles,
// fetches and the inline theme style carrying nonce. Images may also come
// from https (an operator's logo).
func SetPageHeaders(h http.Header, nonce string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	style := "'self'"
	if nonce != "" {
		style += " 'nonce-" + nonce + "'"
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src "+style+
		"; img-src 'self' https: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
}

// NewNonce returns a fresh random CSP nonce.
func NewNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// safeURL returns u when it is a same-origin path ("/x", not "//x") or, if
// absolute is allowed, an http(s) URL with a host; otherwise "". Logos may
// be https only.
func safeURL(u string, allowHTTP bool) string {
	if u == "" || len(u) > 4096 || strings.ContainsAny(u, "\\\r\n\t") {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	if p.Scheme == "" && p.Host == "" {
		if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
			return u
		}
		return ""
	}
	if p.Host == "" || p.User != nil {
		return ""
	}
	if p.Scheme == "https" || (allowHTTP && p.Scheme == "http") {
		return u
	}
	return ""
}

var hexColour = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// Default theme colours.
const (
	defaultAccent     = "#1f5c99"
	defaultBackground = "#f7f5f0"
	defaultText       = "#1c2230"
)

// css returns the custom properties overriding the defaults, or "".
func (t Theme) css() template.CSS {
	var b strings.Builder
	for _, p := range [][2]string{{"--accent", t.Accent}, {"--bg", t.Background}, {"--fg", t.Text}} {
		if hexColour.MatchString(p[1]) {
			b.WriteString(p[0] + ":" + p[1] + ";")
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return template.CSS(":root{" + b.String() + "}")
}

// Check reports colours that are not hex, and pairs whose contrast is below
// WCAG AA for body text (4.5:1): text on background, accent on background
// (links) and background on accent (button labels). Use it when loading
// configuration.
func (t Theme) Check() error {
	var probs []string
	get := func(field, v, dflt string) string {
		if v == "" {
			return dflt
		}
		if !hexColour.MatchString(v) {
			probs = append(probs, field+": "+fmt.Sprintf("%q is not #rgb or #rrggbb", v))
			return dflt
		}
		return v
	}
	acc := get("accent", t.Accent, defaultAccent)
	bg := get("background", t.Background, defaultBackground)
	fg := get("text", t.Text, defaultText)
	if r := contrast(fg, bg); r < 4.5 {
		probs = append(probs, fmt.Sprintf("text on background: contrast %.1f:1, need 4.5:1", r))
	}
	if r := contrast(acc, bg); r < 4.5 {
		probs = append(probs, fmt.Sprintf("accent on background: contrast %.1f:1, need 4.5:1", r))
	}
	if t.LogoURL != "" && safeURL(t.LogoURL, false) == "" {
		probs = append(probs, "logo_url: must be a same-origin path or an https URL")
	}
	if len(probs) > 0 {
		return fmt.Errorf("web: theme: %s", strings.Join(probs, "; "))
	}
	return nil
}
