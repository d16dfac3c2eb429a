package web

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fakeAdmin stands in for the gateway's admin API with one room "biff".
type fakeAdmin struct {
	site *Site

	mu                        sync.Mutex
	rate, maxActive, session  int
	waiting, active, admitted int
	state, opensAt            string
	version                   int64
	samples                   []map[string]any
	patches                   []fakePatch
	urls                      []string
}

type fakePatch struct {
	header http.Header
	body   map[string]any
}

const adminToken = "s3cret-admin-token"

func newFakeAdmin(t *testing.T, s *Site) (*fakeAdmin, *httptest.Server) {
	f := &fakeAdmin{site: s, rate: 600, maxActive: 500, session: 600, waiting: 5000, active: 420, admitted: 590,
		state: "open", opensAt: "2026-10-01T14:00:00+09:00", version: 7}
	now := time.Now().Unix()
	for i := int64(900); i > 0; i-- { // 15 minutes of history already
		x := float64(i)
		f.samples = append(f.samples, map[string]any{"t": now - i, "waiting": 5000 + 3000*math.Sin(x/200), "joins_per_minute": 700 + 200*math.Sin(x/90),
			"admitted_per_minute": 590 + 10*math.Sin(x/30), "rate_per_minute": 600, "active": 420 + 60*math.Sin(x/120), "max_active": 500,
			"skipped": 5 + 4*math.Sin(x/60), "returned": 2 + 2*math.Sin(x/45), "backend_p50_ms": 80 + 20*math.Sin(x/70),
			"backend_p95_ms": 240 + 80*math.Sin(x/50), "backend_error_rate": 0.004 + 0.003*math.Sin(x/40)})
	}
	mux := http.NewServeMux()
	mux.Handle("/foyer/static/", s.Static())
	mux.HandleFunc("GET /foyer/admin/{$}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ServeDashboard(w, DashboardData{Lang: RequestLang(r)}); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/foyer/admin/v1/", f.api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAdmin) roomLocked() map[string]any {
	return map[string]any{"name": "biff", "display_name": "BIFF 2026 general sale", "state": f.state, "mode": "proxy", "paths": []string{"/book"},
		"settings": map[string]any{"rate_per_minute": f.rate, "max_active": f.maxActive, "session_seconds": f.session,
			"opens_at": f.opensAt, "state": f.state, "version": f.version},
		"live": map[string]any{"waiting": f.waiting, "joined": 90000, "admitted": 85000, "active": f.active, "offers": 3,
			"skipped": 120, "returned": 40, "released": map[string]int{"booked": 70000, "abandoned": 9000, "failed": 300},
			"admitted_per_minute": f.admitted, "joins_per_minute": 700, "store_ok": true},
		"backend":           map[string]any{"p50_ms": 85, "p95_ms": 260, "error_rate": 0.005, "requests_per_minute": 9000},
		"eta_clear_seconds": float64(f.waiting) / float64(max(f.rate, 1)) * 60}
}

func (f *fakeAdmin) api(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, r.URL.String())
	if r.Header.Get("Authorization") != "Bearer "+adminToken {
		writeJSON(w, 401, map[string]any{"error": map[string]string{"code": "unauthorized", "message": "bad token"}})
		return
	}
	now := time.Now().Unix()
	if n := len(f.samples); n == 0 || f.samples[n-1]["t"].(int64) < now {
		f.samples = append(f.samples, map[string]any{"t": now, "waiting": f.waiting, "joins_per_minute": 700,
			"admitted_per_minute": f.admitted, "rate_per_minute": f.rate, "active": f.active, "max_active": f.maxActive,
			"skipped": 3, "returned": 1, "backend_p50_ms": 85, "backend_p95_ms": 260, "backend_error_rate": 0.005})
	}
	switch p := strings.TrimPrefix(r.URL.Path, "/foyer/admin/v1"); {
	case r.Method == "GET" && p == "/rooms":
		writeJSON(w, 200, map[string]any{"rooms": []any{f.roomLocked()}})
	case r.Method == "GET" && p == "/rooms/biff":
		writeJSON(w, 200, f.roomLocked())
	case r.Method == "GET" && p == "/rooms/biff/history":
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		var out []map[string]any
		for _, s := range f.samples {
			if s["t"].(int64) > since {
				out = append(out, s)
			}
		}
		writeJSON(w, 200, map[string]any{"samples": out})
	case r.Method == "PATCH" && p == "/rooms/biff":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, 400, map[string]any{"error": map[string]string{"code": "invalid", "message": "bad json"}})
			return
		}
		f.patches = append(f.patches, fakePatch{header: r.Header.Clone(), body: body})
		if im := r.Header.Get("If-Match"); im != fmt.Sprintf("%q", strconv.FormatInt(f.version, 10)) {
			writeJSON(w, 409, map[string]any{"error": map[string]string{"code": "version_conflict", "message": "stale"}})
			return
		}
		fields := map[string]string{}
		if v, ok := body["max_active"].(float64); ok && v > 1e6 {
			fields["max_active"] = "must be at most 1000000"
		}
		if len(fields) > 0 {
			writeJSON(w, 400, map[string]any{"error": map[string]any{"code": "invalid", "message": "invalid settings", "fields": fields}})
			return
		}
		if v, ok := body["rate_per_minute"].(float64); ok {
			f.rate = int(v)
		}
		if v, ok := body["max_active"].(float64); ok {
			f.maxActive = int(v)
		}
		if v, ok := body["state"].(string); ok {
			f.state = v
		}
		f.version++
		writeJSON(w, 200, f.roomLocked())
	default:
		http.NotFound(w, r)
	}
}

func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeAdmin(t, s)
	tb := newTab(t, true) // the wrong-token attempt is a 401 the browser logs
	tb.do(t, chromedp.Navigate(srv.URL+"/foyer/admin/"))
	tb.waitFor(t, "the sign-in form", `!document.getElementById('signin').hidden && document.getElementById('dash').hidden`, 5*time.Second)

	tb.do(t, chromedp.SendKeys(chromedp.CSS("#token"), "wrong\n"))
	tb.waitFor(t, "the token refused", `document.getElementById('signin-err').innerText === 'That token was not accepted.'`, 5*time.Second)

	tb.do(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('token').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken+"\n"))
	tb.waitFor(t, "the overview", `!document.getElementById('dash').hidden && document.querySelector('#rooms tbody tr td:nth-child(3)')?.innerText === '5,000'`, 5*time.Second)
	if got := eval[string](t, tb, `sessionStorage.getItem('foyer_admin_token')`); got != adminToken {
		t.Errorf("token not kept in sessionStorage: %q", got)
	}

	tb.do(t, chromedp.Click(chromedp.CSS("#rooms tbody button")))
	tb.waitFor(t, "the charts", `document.querySelector('#ch-waiting polyline')?.getAttribute('points').split(' ').length > 800`, 5*time.Second)
	if got := tb.text(t, "#room [data-k=clears]"); got != "about 9 min" {
		t.Errorf("line clears in %q, want about 9 min (5,000 at 600/min)", got)
	}

	// Live figures move.
	f.mu.Lock()
	f.waiting = 4321
	f.mu.Unlock()
	tb.waitFor(t, "waiting to update", `document.querySelector('#room [data-k=waiting]').innerText === '4,321'`, 4*time.Second)
	tb.waitFor(t, "the chart to grow", `document.querySelector('#ch-waiting polyline').getAttribute('points').split(' ').length > 903`, 4*time.Second)
	tb.screenshot(t, "dashboard-en")

	// Lower the rate: confirmed, sent as PATCH with the token and If-Match.
	tb.do(t, chromedp.Click(chromedp.CSS("#f-rate_per_minute")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-rate_per_minute').select()`),
		chromedp.SendKeys(chromedp.CSS("#f-rate_per_minute"), "300"),
		chromedp.Click(chromedp.CSS(`form[data-field=rate_per_minute] button`)))
	tb.waitFor(t, "the confirmation", `document.getElementById('confirm').open && document.getElementById('confirm-text').innerText.includes('600') && document.getElementById('confirm-text').innerText.includes('300')`, 3*time.Second)
	tb.screenshot(t, "dashboard-confirm-en")
	tb.do(t, chromedp.Click(chromedp.CSS("#confirm-ok")))
	tb.waitFor(t, "saved", `document.getElementById('saved').innerText.includes('version 8')`, 3*time.Second)
	f.mu.Lock()
	if len(f.patches) != 1 {
		f.mu.Unlock()
		t.Fatalf("%d PATCHes, want 1", len(f.patches))
	}
	p := f.patches[0]
	f.admitted = 300 // the admitted line follows the new rate
	f.mu.Unlock()
	if p.header.Get("Authorization") != "Bearer "+adminToken || p.header.Get("If-Match") != `"7"` ||
		!strings.HasPrefix(p.header.Get("Content-Type"), "application/json") {
		t.Errorf("PATCH headers: %v", p.header)
	}
	if len(p.body) != 1 || p.body["rate_per_minute"] != 300.0 {
		t.Errorf("PATCH body %v", p.body)
	}
	lastY := `(k => { const p = document.querySelector('#ch-flow polyline[data-k=' + k + ']').getAttribute('points').trim().split(' '); return [parseFloat(p[0].split(',')[1]), parseFloat(p[p.length-1].split(',')[1])]; })`
	tb.waitFor(t, "the rate and admitted lines to drop", `(() => { const r = `+lastY+`('rate_per_minute'), a = `+lastY+`('admitted_per_minute'); return r[1] > r[0] + 5 && a[1] > a[0] + 5; })()`, 4*time.Second)

	// A bad value: the API's message under the field.
	tb.do(t, chromedp.Click(chromedp.CSS("#f-max_active")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-max_active').select()`),
		chromedp.SendKeys(chromedp.CSS("#f-max_active"), "2000000"),
		chromedp.Click(chromedp.CSS(`form[data-field=max_active] button`)))
	tb.waitFor(t, "the confirmation", `document.getElementById('confirm').open`, 3*time.Second)
	tb.do(t, chromedp.Click(chromedp.CSS("#confirm-ok")))
	tb.waitFor(t, "the field error", `document.getElementById('e-max_active').innerText === 'must be at most 1000000' && document.getElementById('f-max_active').getAttribute('aria-invalid') === 'true'`, 3*time.Second)

	// Cancel does nothing; pause is confirmed and sent.
	tb.do(t, chromedp.Click(chromedp.CSS(`button[data-state=paused]`)))
	tb.waitFor(t, "the confirmation", `document.getElementById('confirm').open`, 3*time.Second)
	tb.do(t, chromedp.Click(chromedp.CSS(`#confirm button[value=cancel]`)))
	tb.waitFor(t, "the dialog closed", `!document.getElementById('confirm').open`, 3*time.Second)
	tb.do(t, chromedp.Click(chromedp.CSS(`button[data-state=paused]`)))
	tb.waitFor(t, "the confirmation", `document.getElementById('confirm').open`, 3*time.Second)
	tb.do(t, chromedp.Click(chromedp.CSS("#confirm-ok")))
	t.Cleanup(func() {
		if t.Failed() {
			f.mu.Lock()
			for _, p := range f.patches {
				t.Logf("patch %v %v", p.header.Get("If-Match"), p.body)
			}
			f.mu.Unlock()
		}
	})
	tb.waitFor(t, "paused in the overview", `document.querySelector('#rooms tbody td:nth-child(2)').innerText === 'paused'`, 3*time.Second)

	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.patches); n != 3 {
		t.Errorf("%d PATCHes, want 3 (rate, bad max_active, pause)", n)
	} else if f.patches[2].body["state"] != "paused" {
		t.Errorf("pause body %v", f.patches[2].body)
	}
	for _, u := range f.urls {
		if strings.Contains(u, adminToken) {
			t.Errorf("token in a URL: %s", u)
		}
	}
}
