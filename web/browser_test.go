package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive real headless Chromium against pages served from
// an httptest server with a fake gateway the test controls. One browser is
// shared by the package (started on first use, stopped by TestMain); each
// test gets its own tab.

var browser struct {
	once    sync.Once
	ctx     context.Context
	cancel  func()
	dataDir string
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dataDir != "" {
		_ = os.RemoveAll(browser.dataDir)
	}
	os.Exit(code)
}

// chromiumPath finds the browser: FOYER_CHROMIUM, then the usual names.
func chromiumPath() string {
	if p := os.Getenv("FOYER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab opens a new tab in the shared browser, with a deadline, and collects
// the page's console errors and uncaught exceptions; they fail the test at
// its end unless allowed by allowNetworkErrors.
type tabT struct {
	ctx context.Context
	mu  sync.Mutex
	// problems are console errors and exceptions; netErrs are failed loads.
	problems, netErrs []string
}

func newTab(t *testing.T, allowNetworkErrors bool) *tabT {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	browser.once.Do(func() {
		path := chromiumPath()
		if path == "" {
			browser.err = fmt.Errorf("chromium not found: install it (Debian: apt-get install -y chromium) or set FOYER_CHROMIUM to a Chrome/Chromium binary; run go test -short to skip browser tests")
			return
		}
		dir, err := os.MkdirTemp("", "foyer-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		browser.dataDir = dir
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path),
			chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.WindowSize(1000, 900),
		)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		if err := chromedp.Do(ctx); err != nil { // starts the browser, no deadline
			cancelCtx()
			cancelAlloc()
			browser.err = fmt.Errorf("start chromium at %s: %w (install it with apt-get install -y chromium, or point FOYER_CHROMIUM at a working Chrome/Chromium)", path, err)
			return
		}
		browser.ctx = ctx
		browser.cancel = func() { cancelCtx(); cancelAlloc() }
	})
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	// A browser context per tab: cookies (tickets, language) stay with their
	// test even though every test server is on 127.0.0.1.
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tctx, tcancel := context.WithTimeout(ctx, 45*time.Second)
	t.Cleanup(tcancel)
	tb := &tabT{ctx: tctx}
	consoles := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	logs := chromedp.Events(ctx, log.EntryAdded)
	go func() {
		for ev, err := range consoles {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				tb.add(false, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.add(false, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		}
	}()
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
				tb.add(e.Source == log.EntrySourceNetwork, "log "+string(e.Source)+": "+e.Text+" "+e.URL)
			}
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("browser: %s", p)
		}
		if !allowNetworkErrors {
			for _, p := range tb.netErrs {
				t.Errorf("browser: %s", p)
			}
		}
	})
	return tb
}

func (tb *tabT) add(network bool, s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if network {
		tb.netErrs = append(tb.netErrs, s)
	} else {
		tb.problems = append(tb.problems, s)
	}
}

func (tb *tabT) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		t.Fatalf("chromedp: %v", err)
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](t *testing.T, tb *tabT, js string) T {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is true or the time is up;
// on failure it reports what the page shows.
func (tb *tabT) waitFor(t *testing.T, what, js string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var err error
	for {
		_, err = chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](js,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		// A navigation (the page going to the booking site, a reload)
		// ends the poll early: ask again in the new document.
		if err == nil || time.Until(deadline) <= 0 || !(strings.Contains(err.Error(), "navigated") || strings.Contains(err.Error(), "context")) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		state, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`location.href + " | " + (document.querySelector("main") || document.body).innerText.replace(/\s+/g, " ").slice(0, 400)`))
		t.Fatalf("waiting for %s: %v; page: %s", what, err, state)
	}
}

// text is the visible text of the first element matching a CSS selector.
func (tb *tabT) text(t *testing.T, sel string) string {
	t.Helper()
	return eval[string](t, tb, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText.trim() : "<none: %s>"; })()`, sel, sel))
}

var shotMu sync.Mutex

// screenshot writes a PNG of the page to FOYER_SCREENSHOTS (or a temporary
// folder kept for this test run).
func (tb *tabT) screenshot(t *testing.T, name string) {
	t.Helper()
	buf, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shotMu.Lock()
	defer shotMu.Unlock()
	dir := os.Getenv("FOYER_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "foyer-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

// fakeGateway stands in for the gateway's visitor side for one room "r".
type fakeGateway struct {
	site *Site

	mu           sync.Mutex
	state        string // open, paused, closed (prequeue is derived from opensAt)
	head         int64
	issued       int64
	joinedPlace  map[int64]int64
	opensAt      time.Time
	fail         int // answer status polls with this code when non-zero
	reconnecting bool
	pollMS       int64
	polls, joins int
	secPerPlace  float64

	// What the status JSON gains for real crowds (issue 11).
	stalled          string // "", "sessions", "paused"
	returning        bool
	notice           string // "", "place_rose"
	remaining        int64  // > 0: the stock left, sent while fewer than the place (issue 14)
	noJoinedOnStatus bool   // joined_place only on the join response, as the gateway did
	reentry          bool   // a second chance after a failed booking (issue 14)
	// joinFail and statusFail answer the next requests with these codes (consumed in order;
	// -1 drops the connection); retryAfter is their Retry-After header.
	joinFail, statusFail []int
	retryAfter           string
	lastAt               time.Time // when the last join or status request came in
}

func newFakeGateway(t *testing.T, s *Site) (*fakeGateway, *httptest.Server) {
	f := &fakeGateway{site: s, state: "open", issued: 49, pollMS: 200, joinedPlace: map[int64]int64{}, secPerPlace: 6}
	mux := http.NewServeMux()
	mux.Handle("/foyer/static/", s.Static())
	mux.HandleFunc("GET /book", f.page)
	mux.HandleFunc("POST /foyer/v1/rooms/r/join", f.join)
	mux.HandleFunc("GET /foyer/v1/rooms/r/status", f.status)
	mux.HandleFunc("GET /foyer/v1/rooms/r/fairness", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"commitment":"00"}`))
	})
	// issue 14: the feedback prompt the page fetches after the sale (feedback.js)
	mux.HandleFunc("GET /foyer/v1/rooms/r/feedback", func(w http.ResponseWriter, r *http.Request) {
		_ = s.ServeFeedbackPage(w, FeedbackPageData{Lang: RequestLang(r), Room: "r"})
	})
	mux.HandleFunc("POST /foyer/v1/rooms/r/feedback", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /booked", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><title>Booking</title><link rel="icon" href="data:,"><h1>Booking page</h1></html>`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGateway) set(fn func(f *fakeGateway)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func ticketOf(r *http.Request) (int64, bool) {
	v := r.Header.Get("Foyer-Ticket")
	if c, err := r.Cookie("foyer_ticket_r"); err == nil {
		v = c.Value
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n > 0
}

// statusLocked computes the status JSON for ticket n.
func (f *fakeGateway) statusLocked(n int64) map[string]any {
	now := time.Now()
	st := map[string]any{"room": "r", "state": f.state, "poll_after_ms": f.pollMS, "admitted": false,
		"redirect": "", "reconnecting": f.reconnecting, "updated_at": now.UTC().Format(time.RFC3339Nano),
		"place": 0, "ahead": 0, "eta_seconds": map[string]int64{"low": 0, "high": 0}}
	if n > 0 {
		st["position"] = n
	}
	if !f.noJoinedOnStatus {
		st["joined_place"] = f.joinedPlace[n]
	}
	if f.stalled != "" {
		st["stalled"] = f.stalled
	}
	if f.returning {
		st["returning"] = true
	}
	if f.notice != "" {
		st["notice"] = f.notice
	}
	if f.reentry {
		st["reentry"] = true
	}
	if !f.opensAt.IsZero() {
		st["opens_at"] = f.opensAt.Format(time.RFC3339)
		if now.Before(f.opensAt) {
			st["state"] = "prequeue"
			return st
		}
	}
	if f.reconnecting {
		return st // place unknown: the page keeps the last one
	}
	place := n - f.head
	if place <= 0 && f.state == "open" {
		st["admitted"], st["redirect"] = true, "/booked"
		return st
	}
	st["place"], st["ahead"] = place, place-1
	if f.remaining > 0 && f.remaining < place {
		st["remaining"] = f.remaining
	}
	eta := float64(place) * f.secPerPlace
	st["eta_seconds"] = map[string]int64{"low": int64(eta * 0.8), "high": int64(eta * 1.2)}
	if f.stalled != "" {
		st["eta_seconds"] = nil // no number for a line that does not move
	}
	return st
}

func (f *fakeGateway) page(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n, has := ticketOf(r)
	st := f.statusLocked(n)
	f.mu.Unlock()
	lang := RequestLang(r)
	if r.URL.Query().Has(LangQueryParam) {
		http.SetCookie(w, LangCookie(lang, false))
	}
	// A theme, so the nonce'd inline style is exercised under the page's CSP.
	d := QueuePageData{Room: "r", DisplayName: "Busan Film Festival 2026", Lang: lang, TimeZone: "Asia/Seoul", HasTicket: has,
		Theme: Theme{Accent: "#1d4f91"}}
	if has {
		d.Status = statusFromJSON(st)
	} else {
		d.Status = Status{State: st["state"].(string), PollAfter: 200 * time.Millisecond}
	}
	if err := f.site.ServeQueuePage(w, http.StatusOK, d); err != nil {
		http.Error(w, err.Error(), 500)
	}
}

// statusFromJSON is what a gateway would do with its own status value.
func statusFromJSON(m map[string]any) Status {
	i := func(k string) int64 {
		switch v := m[k].(type) {
		case int64:
			return v
		case int:
			return int64(v)
		}
		return 0
	}
	eta, _ := m["eta_seconds"].(map[string]int64)
	str := func(k string) string { v, _ := m[k].(string); return v }
	ret, _ := m["returning"].(bool)
	re, _ := m["reentry"].(bool)
	s := Status{Position: i("position"), Stalled: str("stalled"), Returning: ret, Notice: str("notice"), Reentry: re,
		State: m["state"].(string), Place: i("place"), Ahead: i("ahead"), JoinedPlace: i("joined_place"),
		ETALow: time.Duration(eta["low"]) * time.Second, ETAHigh: time.Duration(eta["high"]) * time.Second,
		PollAfter: time.Duration(i("poll_after_ms")) * time.Millisecond, Admitted: m["admitted"].(bool),
		Redirect: m["redirect"].(string), Reconnecting: m["reconnecting"].(bool)}
	if v, ok := m["opens_at"].(string); ok {
		s.OpensAt, _ = time.Parse(time.RFC3339, v)
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGateway) join(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joins++
	f.lastAt = time.Now()
	if f.refuse(w, &f.joinFail) {
		return
	}
	n, ok := ticketOf(r)
	if !ok {
		f.issued++
		n = f.issued
		f.joinedPlace[n] = n - f.head
	}
	http.SetCookie(w, &http.Cookie{Name: "foyer_ticket_r", Value: strconv.FormatInt(n, 10), Path: "/", HttpOnly: true})
	st := f.statusLocked(n)
	st["ticket"] = strconv.FormatInt(n, 10)
	st["joined_place"] = f.joinedPlace[n]
	writeJSON(w, 200, st)
}

// refuse answers with the next code of *codes, if any: an error JSON with Retry-After, or a
// dropped connection for -1.
func (f *fakeGateway) refuse(w http.ResponseWriter, codes *[]int) bool {
	if len(*codes) == 0 {
		return false
	}
	code := (*codes)[0]
	*codes = (*codes)[1:]
	if code < 0 {
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = c.Close()
		}
		return true
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	errCode := map[int]string{429: "rate_limited", 503: "reconnecting"}[code]
	writeJSON(w, code, map[string]any{"error": map[string]string{"code": errCode, "message": "refused"}})
	return true
}

func (f *fakeGateway) status(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	f.lastAt = time.Now()
	if r.Header.Get("Accept") != "application/json" {
		writeJSON(w, 406, map[string]any{"error": map[string]string{"code": "not_acceptable", "message": "want JSON"}})
		return
	}
	if f.refuse(w, &f.statusFail) {
		return
	}
	if f.fail != 0 {
		writeJSON(w, f.fail, map[string]any{"error": map[string]string{"code": "unavailable", "message": "down"}})
		return
	}
	n, ok := ticketOf(r)
	if !ok {
		writeJSON(w, 401, map[string]any{"error": map[string]string{"code": "no_ticket", "message": "no ticket"}})
		return
	}
	writeJSON(w, 200, f.statusLocked(n))
}

func TestBrowserQueueMovesAndAdmits(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	tb := newTab(t, false)

	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	// No ticket: the page joins by itself and shows its place.
	tb.waitFor(t, "place 50", `document.querySelector('#p-wait:not([hidden]) [data-f=place]')?.innerText === '50'`, 10*time.Second)
	if got := tb.text(t, "#p-wait [data-f=eta]"); got != "about 4 to 6 minutes" {
		t.Errorf("eta %q", got)
	}
	f.mu.Lock()
	joins := f.joins
	f.mu.Unlock()
	if joins != 1 {
		t.Errorf("%d joins, want 1", joins)
	}

	// The head moves: the place goes down, the progress bar forward, and
	// the live region says so.
	f.set(func(f *fakeGateway) { f.head = 20 })
	tb.waitFor(t, "place 30", `document.querySelector('#p-wait [data-f=place]').innerText === '30'`, 5*time.Second)
	if got := tb.text(t, "#p-wait [data-f=ahead]"); got != "29" {
		t.Errorf("ahead %q", got)
	}
	if v := eval[float64](t, tb, `document.getElementById('prog').value`); v != 20 {
		t.Errorf("progress value %v, want 20 of 49", v)
	}
	tb.waitFor(t, "an announcement", `document.getElementById('live').textContent.includes('30')`, 3*time.Second)
	tb.screenshot(t, "queue-waiting-en")

	// Keyboard: the first Tab reaches the skip link.
	tb.do(t, chromedp.KeyEvent("\t"))
	if cls := eval[string](t, tb, `document.activeElement.className`); cls != "skip" {
		t.Errorf("first Tab focused %q, want the skip link", cls)
	}

	// Narrow screen (320 CSS px, what 1280 px at 400% or 640 px at 200% zoom
	// gives): nothing scrolls sideways.
	tb.do(t, chromedp.EmulateViewport(320, 700, chromedp.EmulateScale(2)))
	if w := eval[int](t, tb, `document.documentElement.scrollWidth`); w > 320 {
		t.Errorf("page is %d px wide at a 320 px viewport", w)
	}
	tb.screenshot(t, "queue-waiting-320px")
	tb.do(t, chromedp.EmulateViewport(1000, 900))

	// The visitor's turn: the page goes on by itself.
	f.set(func(f *fakeGateway) { f.head = 60 })
	tb.waitFor(t, "the booking page", `location.pathname === '/booked' && document.querySelector('h1')?.innerText === 'Booking page'`, 5*time.Second)
}

func TestBrowserKoreanAndLanguageSwitch(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	f.set(func(f *fakeGateway) { f.issued = 1233; f.secPerPlace = 0.25 })
	tb := newTab(t, false)
	if _, err := chromedp.Run(tb.ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "ko-KR,ko;q=0.9"}})
		return chromedp.Void{}, err
	}); err != nil {
		t.Fatal(err)
	}
	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	tb.waitFor(t, "Korean place", `document.querySelector('#p-wait:not([hidden]) [data-f=place]')?.innerText === '1,234'`, 10*time.Second)
	if l := eval[string](t, tb, `document.documentElement.lang`); l != "ko" {
		t.Errorf("lang %q", l)
	}
	if h := tb.text(t, "#h-wait"); h != "대기 중입니다" {
		t.Errorf("heading %q", h)
	}
	// The script's ETA words match the server's for the same numbers.
	want := formatETA(s.catalogs[LangKorean], 246*time.Second, 370*time.Second)
	if got := tb.text(t, "#p-wait [data-f=eta]"); got != want {
		t.Errorf("eta %q, want %q", got, want)
	}
	tb.screenshot(t, "queue-waiting-ko")

	// A reload renders the first status on the server, in Korean too.
	tb.do(t, chromedp.Reload())
	if got := tb.text(t, "#p-wait [data-f=eta]"); got != want {
		t.Errorf("server-rendered eta %q, want %q", got, want)
	}

	// Switch to English: remembered in the cookie, across reloads.
	tb.do(t, chromedp.Click(chromedp.CSS(`a[data-lang=en]`)))
	tb.waitFor(t, "English heading", `document.documentElement.lang === 'en' && document.getElementById('h-wait')?.innerText === "You're in line"`, 5*time.Second)
	if c := eval[string](t, tb, `document.cookie`); !strings.Contains(c, "foyer_lang=en") {
		t.Errorf("cookie %q", c)
	}
	if p := eval[string](t, tb, `location.pathname + location.search`); p != "/book" {
		t.Errorf("switching language changed the URL to %q", p)
	}
}

func TestBrowserPrequeueCountdown(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	tb := newTab(t, false)
	tb.do(t, chromedp.Navigate("about:blank")) // the browser is up: the clock below is the page's
	opens := time.Now().Add(5 * time.Second).Truncate(time.Second).Add(time.Second)
	f.set(func(f *fakeGateway) { f.opensAt = opens; f.pollMS = 30000 })
	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	tb.waitFor(t, "the pre-queue panel", `!document.getElementById('p-pre').hidden && !document.querySelector('[data-state=prequeue]').hidden`, 10*time.Second)
	first := tb.text(t, "[data-f=countdown]")
	if !strings.HasPrefix(first, "00:00:0") {
		t.Fatalf("countdown %q", first)
	}
	tb.waitFor(t, "the countdown to tick", fmt.Sprintf(`document.querySelector('[data-f=countdown]').innerText !== %q`, first), 3*time.Second)
	if got := tb.text(t, "#p-pre time[data-f=opens]"); !strings.Contains(got, "2026") && !strings.Contains(got, time.Now().Format("2006")) {
		t.Errorf("opening time %q", got)
	}
	if n := eval[int](t, tb, `document.querySelectorAll('#p-pre a[href$="/fairness"]').length`); n != 1 {
		t.Errorf("fairness link missing")
	}
	tb.screenshot(t, "queue-prequeue-en")
	// Record every state of the pre-queue panel from here on.
	eval[bool](t, tb, `(() => {
		window.__seen = [];
		const rec = () => window.__seen.push(document.querySelector('[data-f=countdown]').textContent + (document.getElementById('p-pre').hidden ? ' hidden' : ' shown'));
		new MutationObserver(rec).observe(document.getElementById('main'), {subtree: true, childList: true, characterData: true, attributes: true});
		return true;
	})()`)
	// At the opening the page asks again by itself (the next regular poll
	// is 30 s away) and shows the place.
	tb.waitFor(t, "the line after opening", `!document.getElementById('p-wait').hidden && document.querySelector('#p-wait [data-f=place]').innerText === '50'`, 10*time.Second)
	// It never showed a countdown at zero with "pre-queue" still up: at the opening it
	// switched to "getting your place" and asked.
	if seen := eval[[]string](t, tb, `window.__seen`); slices.Contains(seen, "00:00:00 shown") {
		t.Errorf("the pre-queue panel showed 00:00:00: %v", seen)
	}
	if n := eval[int](t, tb, `performance.getEntriesByType('resource').filter(e => e.name.includes('/status')).length`); n != 1 {
		t.Errorf("%d status polls around the opening, want 1", n)
	}
}

func TestBrowserReconnecting(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	tb := newTab(t, true) // the 503s below are logged by the browser as failed loads
	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	tb.waitFor(t, "place 50", `document.querySelector('#p-wait:not([hidden]) [data-f=place]')?.innerText === '50'`, 10*time.Second)

	// The gateway answers 503: reconnecting, the place stays.
	f.set(func(f *fakeGateway) { f.fail = http.StatusServiceUnavailable; f.polls = 0 })
	tb.waitFor(t, "reconnecting", `!document.getElementById('recon').hidden`, 5*time.Second)
	if p := tb.text(t, "#p-wait [data-f=place]"); p != "50" {
		t.Errorf("place during outage %q", p)
	}
	tb.screenshot(t, "queue-reconnecting-en")
	time.Sleep(2500 * time.Millisecond)
	f.mu.Lock()
	polls := f.polls
	f.mu.Unlock()
	if polls > 4 { // at the normal 200 ms it would be about 12
		t.Errorf("%d polls in 2.5 s of outage: no back-off", polls)
	}

	// Reachable again but the gateway has lost its store: reconnecting:true,
	// place unknown; the page keeps the last place.
	f.set(func(f *fakeGateway) { f.fail = 0; f.reconnecting = true; f.polls = 0 })
	deadline := time.Now().Add(8 * time.Second)
	for {
		f.mu.Lock()
		p := f.polls
		f.mu.Unlock()
		if p > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if v := eval[bool](t, tb, `!document.getElementById('recon').hidden && document.querySelector('#p-wait [data-f=place]').innerText === '50'`); !v {
		t.Errorf("reconnecting:true should keep the banner and the place")
	}
	f.set(func(f *fakeGateway) { f.reconnecting = false; f.head = 10 })
	tb.waitFor(t, "back to normal", `document.getElementById('recon').hidden && document.querySelector('#p-wait [data-f=place]').innerText === '40'`, 5*time.Second)
	tb.waitFor(t, "the recovery announced", `document.getElementById('live').textContent.includes('40')`, 3*time.Second)
}

func TestBrowserErrorPage(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	mux := http.NewServeMux()
	mux.Handle("/foyer/static/", s.Static())
	mux.HandleFunc("GET /book", func(w http.ResponseWriter, r *http.Request) {
		_ = s.ServeErrorPage(w, http.StatusServiceUnavailable, ErrorPageData{Lang: RequestLang(r), Code: "backend_unavailable",
			DisplayName: "Busan Film Festival 2026", RequestID: "7f3a9c", RetryAfter: 30 * time.Second, Theme: Theme{Accent: "#1d4f91"}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tb := newTab(t, true) // the page itself is a 503, which the browser logs
	tb.do(t, chromedp.Navigate(srv.URL+"/book?foyer_lang=ko"))
	if h := tb.text(t, "h1"); h != "예매 사이트가 응답하지 않습니다" {
		t.Errorf("heading %q", h)
	}
	// The stylesheet loaded under the page's CSP (the button is styled).
	if bg := eval[string](t, tb, `getComputedStyle(document.getElementById('retry')).backgroundColor`); bg != "rgb(29, 79, 145)" {
		t.Errorf("retry button background %q: stylesheet or theme blocked?", bg)
	}
	tb.screenshot(t, "error-ko")
}
