package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/foyerhq/foyer/admission"
)

// The dashboard test drives real headless Chromium against the real gateway (real Redis, real
// admin API), while a goroutine sends visitors through the room.

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

// browserTab starts a private headless Chromium for the test and returns a tab's context (with
// a deadline). Console errors, uncaught exceptions and failed loads fail the test at its end,
// except failed loads that contain one of the expected strings (answers the test provokes).
func browserTab(t *testing.T, expected ...string) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	path := chromiumPath()
	if path == "" {
		t.Fatal("chromium not found: install it (Debian: apt-get install -y chromium) or set FOYER_CHROMIUM to a Chrome/Chromium binary; go test -short skips the browser tests")
	}
	dir := t.TempDir()
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
		chromedp.WindowSize(1100, 1400),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, no deadline
		t.Fatalf("start chromium at %s: %v (install it with apt-get install -y chromium, or point FOYER_CHROMIUM at a working Chrome/Chromium)", path, err)
	}
	var mu sync.Mutex
	var problems []string
	add := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
	consoles := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	logs := chromedp.Events(ctx, log.EntryAdded)
	go func() {
		for ev, err := range consoles {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				add("console." + string(ev.Type) + ": " + strings.Join(args, " "))
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
			add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		}
	}()
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
				msg := "log " + string(e.Source) + ": " + e.Text + " " + e.URL
				if e.Source == log.EntrySourceNetwork && slices.ContainsFunc(expected, func(x string) bool { return strings.Contains(msg, x) }) {
					continue
				}
				add(msg)
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser: %s", p)
		}
	})
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return tctx
}

func browse(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("chromedp: %v", err)
	}
}

func jsEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

// waitJS polls a JavaScript predicate until it holds; on failure it reports what the page shows.
func waitJS(t *testing.T, ctx context.Context, what, js string, within time.Duration) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body).innerText.replace(/\s+/g, " ").slice(0, 600)`))
		t.Fatalf("waiting for %s: %v; page: %s", what, err, state)
	}
}

func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
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

// crowd sends visitors through a room over HTTP: a join every interval, and status polls for
// the front of the line (which claim the slot when it is their turn). It stops when ctx ends.
type crowd struct {
	joined, admitted, failed atomic.Int64
}

func (c *crowd) run(ctx context.Context, base, room string, every time.Duration) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	type waiter struct{ ticket string }
	var line []waiter
	call := func(method, path, ticket string) (statusBody, bool) {
		req, err := http.NewRequestWithContext(ctx, method, base+"/foyer/v1/rooms/"+room+path, nil)
		if err != nil {
			return statusBody{}, false
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set(admission.VisitorSecretHeader, "dashboard-crowd-secret-0123456789abcdef") // one app secret for the crowd
		if ticket != "" {
			req.Header.Set(ticketHeader, ticket)
		}
		resp, err := client.Do(req)
		if err != nil {
			return statusBody{}, false
		}
		defer resp.Body.Close()
		var s statusBody
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &s) != nil {
			if ctx.Err() == nil {
				c.failed.Add(1)
			}
			return s, false
		}
		return s, true
	}
	join := time.NewTicker(every)
	defer join.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-join.C:
			s, ok := call(http.MethodPost, "/join", "")
			if !ok {
				continue
			}
			c.joined.Add(1)
			if s.Admitted {
				c.admitted.Add(1)
			} else {
				line = append(line, waiter{s.Ticket})
			}
		case <-poll.C:
			// the front of the line polls (and claims when it is their turn); everyone joined
			// within AbsentAfter counts as present without polling
			kept := line[:0]
			for i, w := range line {
				if i >= 12 {
					kept = append(kept, w)
					continue
				}
				s, ok := call(http.MethodGet, "/status", w.ticket)
				if ok && s.Admitted {
					c.admitted.Add(1)
					continue
				}
				kept = append(kept, w)
			}
			line = kept
		}
	}
}

// TestDashboardAgainstRealGateway: an organiser signs in to the dashboard of a live gateway,
// sees the room's figures and charts move while visitors go through, lowers the rate through
// the dashboard's controls (confirmed in a dialog), and sees the rate line change and the
// admitted-per-minute line come down toward it.
func TestDashboardAgainstRealGateway(t *testing.T) {
	t.Parallel()
	const fast, slow = 1200, 240 // visitors per minute: 20/s, then 4/s
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.DisplayName = "BIFF 2026 general sale"
		r.RatePerMinute, r.MaxActive, r.AbsentAfter = fast, 5000, time.Minute
		return []RoomConfig{r}
	}})
	// the refused value and the version conflict below are answers the test provokes
	ctx := browserTab(t, "status of 400 (Bad Request) "+h.srv.URL+festivalPath, "status of 409 (Conflict) "+h.srv.URL+festivalPath)

	// visitors: 30 joins a second, more than either rate, so a line builds and the rate rules
	var c crowd
	cctx, stopCrowd := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.run(cctx, h.srv.URL, testRoom, 33*time.Millisecond) }()
	t.Cleanup(func() { stopCrowd(); wg.Wait() })

	// sign in with the admin token
	browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/admin/"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('signin').hidden && document.getElementById('dash').hidden`, 10*time.Second)
	browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\n"))
	waitJS(t, ctx, "the overview", `!document.getElementById('dash').hidden && document.querySelector('#rooms tbody button')?.innerText.includes('festival')`, 10*time.Second)
	if got := jsEval[string](t, ctx, `sessionStorage.getItem('foyer_admin_token')`); got != testAdminToken {
		t.Errorf("token not kept in sessionStorage: %q", got)
	}
	if u := jsEval[string](t, ctx, `location.href`); strings.Contains(u, testAdminToken) {
		t.Errorf("token in the URL: %s", u)
	}

	// open the room: figures and charts move while visitors go through
	browse(t, ctx, chromedp.Click(chromedp.CSS("#rooms tbody button")))
	waitJS(t, ctx, "the room's figures", `document.querySelector('#room [data-k=rate]')?.innerText === '1,200'`, 10*time.Second)
	num := func(sel string) string {
		return `parseInt((document.querySelector('` + sel + `')?.innerText || '').replace(/[^0-9]/g, '') || '0', 10)`
	}
	waitJS(t, ctx, "people waiting", num("#room [data-k=waiting]")+` > 20`, 15*time.Second)
	w1 := jsEval[int](t, ctx, num("#room [data-k=waiting]"))
	points := func(chart, k string) string {
		return `(document.querySelector('#` + chart + ` polyline[data-k=` + k + `]')?.getAttribute('points') || '').trim().split(' ').filter(Boolean).length`
	}
	p1 := jsEval[int](t, ctx, points("ch-waiting", "waiting"))
	waitJS(t, ctx, "the waiting figure to move", num("#room [data-k=waiting]")+` > `+fmt.Sprint(w1), 10*time.Second)
	waitJS(t, ctx, "the waiting chart to grow", points("ch-waiting", "waiting")+` > `+fmt.Sprint(p1+1), 10*time.Second)
	waitJS(t, ctx, "the active chart to rise", `(() => { const p = (document.querySelector('#ch-active polyline[data-k=active]')?.getAttribute('points') || '').trim().split(' ').filter(Boolean); return p.length > 2 && parseFloat(p[p.length-1].split(',')[1]) < parseFloat(p[0].split(',')[1]); })()`, 10*time.Second)
	// admissions run at the fast rate before the change
	waitJS(t, ctx, "admitted per minute well above the slow rate", num("#room [data-k=admitted]")+` >= 500`, 30*time.Second)
	shoot(t, ctx, "gateway-dashboard-live")

	// lower the rate through the dashboard: confirmed, then applied
	browse(t, ctx, chromedp.Click(chromedp.CSS("#f-rate_per_minute")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-rate_per_minute').select()`),
		chromedp.SendKeys(chromedp.CSS("#f-rate_per_minute"), fmt.Sprint(slow)),
		chromedp.Click(chromedp.CSS(`form[data-field=rate_per_minute] button`)))
	waitJS(t, ctx, "the confirmation", `document.getElementById('confirm').open && document.getElementById('confirm-text').innerText.includes('1,200') && document.getElementById('confirm-text').innerText.includes('240')`, 5*time.Second)
	if st := h.stored(testRoom); st.RatePerMinute != fast {
		t.Fatalf("the rate changed before the confirmation: %d", st.RatePerMinute)
	}
	shoot(t, ctx, "gateway-dashboard-confirm")
	browse(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	waitJS(t, ctx, "saved", `document.getElementById('saved').innerText.includes('version')`, 5*time.Second)
	// the engine's own count of admissions (offers made), from here on
	changed := time.Now()
	statsAtChange, err := h.engine.Stats(context.Background(), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	st := h.stored(testRoom)
	if st.RatePerMinute != slow {
		t.Fatalf("stored rate %d after the dashboard change, want %d", st.RatePerMinute, slow)
	}
	if a := h.auditRaw(); len(a) == 0 || a[0].Actor != "tester" || a[0].Before.RatePerMinute != fast || a[0].After.RatePerMinute != slow {
		t.Fatalf("audit: %+v", a)
	}

	// the API's history: the rate line steps down, and admitted per minute comes down toward it
	type sample struct {
		T        int64   `json:"t"`
		Rate     int     `json:"rate_per_minute"`
		Admitted float64 `json:"admitted_per_minute"`
	}
	history := func() []sample {
		var out struct {
			Samples []sample `json:"samples"`
		}
		r := h.call(adminCall{method: http.MethodGet, path: festivalPath + "/history"})
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatalf("history: %d %s", r.status, r.body)
		}
		return out.Samples
	}
	var atChange, lastAdmitted float64
	deadline := time.Now().Add(40 * time.Second) // generous: CI machines are busy; this is not a timing test
	for {
		s := history()
		lastFast, firstSlow := -1, -1
		for i, x := range s {
			switch {
			case x.Rate == fast:
				lastFast = i
			case x.Rate == slow && firstSlow < 0:
				firstSlow = i
			}
		}
		if lastFast >= 0 && firstSlow > lastFast {
			atChange, lastAdmitted = s[lastFast].Admitted, s[len(s)-1].Admitted
			// admitted per minute is measured over the last minute (or all the history when
			// that is shorter), so it comes down gradually: a fifth below its value at the
			// change, a few samples after it, shows it following the rate down
			if len(s)-firstSlow >= 3 && lastAdmitted < 0.8*atChange {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("admitted per minute did not come down: %.0f at the change, %.0f now; samples %+v", atChange, lastAdmitted, s)
		}
		time.Sleep(500 * time.Millisecond)
	}
	since := time.Since(changed)
	statsNow, err := h.engine.Stats(context.Background(), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	admittedSince := statsNow.Admitted - statsAtChange.Admitted
	// at 4 a second, plus at most a second of banked credit and a cache refresh either side
	if limit := int64(since.Seconds()*slow/60) + 2*slow/60 + 2; admittedSince > limit {
		t.Errorf("%d visitors admitted in the %s after lowering the rate to %d/min (at most %d expected)",
			admittedSince, since.Round(time.Millisecond), slow, limit)
	}
	if admittedSince == 0 {
		t.Errorf("nobody admitted in the %s after the change", since.Round(time.Millisecond))
	}

	// the dashboard shows it: the rate line stepped down (larger y) and the admitted line is
	// below its peak
	lastY := `(k => { const p = (document.querySelector('#ch-flow polyline[data-k=' + k + ']')?.getAttribute('points') || '').trim().split(' ').filter(Boolean).map(q => parseFloat(q.split(',')[1])); return p.length ? {first: p[0], last: p[p.length-1], top: Math.min(...p)} : null; })`
	waitJS(t, ctx, "the chart's rate and admitted lines to come down", `(() => { const r = `+lastY+`('rate_per_minute'), a = `+lastY+`('admitted_per_minute'); return r && a && r.last > r.first + 5 && a.last > a.top + 5; })()`, 5*time.Second)
	waitJS(t, ctx, "the rate figure", `document.querySelector('#room [data-k=rate]').innerText === '240'`, 5*time.Second)
	shoot(t, ctx, "gateway-dashboard-rate-lowered")

	if f := c.failed.Load(); f > 0 {
		t.Errorf("%d visitor requests failed", f)
	}
	stopCrowd()
	wg.Wait()

	// a value the API refuses: its message shows under the field, nothing changes
	v := h.stored(testRoom).Version
	browse(t, ctx, chromedp.Click(chromedp.CSS("#f-max_active")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-max_active').select()`),
		chromedp.SendKeys(chromedp.CSS("#f-max_active"), "0"),
		chromedp.Click(chromedp.CSS(`form[data-field=max_active] button`)))
	waitJS(t, ctx, "the confirmation", `document.getElementById('confirm').open`, 5*time.Second)
	browse(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	waitJS(t, ctx, "the API's message under the field", `document.getElementById('e-max_active').innerText.includes('between 1 and') && document.getElementById('f-max_active').getAttribute('aria-invalid') === 'true'`, 5*time.Second)
	if st := h.stored(testRoom); st.Version != v || st.MaxActive != 5000 {
		t.Fatalf("refused change stored: %+v", st)
	}

	// another organiser changes the room while this one confirms: 409, the form re-reads
	browse(t, ctx, chromedp.Click(chromedp.CSS("#f-session_seconds")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-session_seconds').select()`),
		chromedp.SendKeys(chromedp.CSS("#f-session_seconds"), "900"),
		chromedp.Click(chromedp.CSS(`form[data-field=session_seconds] button`)))
	waitJS(t, ctx, "the confirmation", `document.getElementById('confirm').open`, 5*time.Second)
	if r := h.call(adminCall{method: http.MethodPatch, path: festivalPath, body: `{"session_seconds": 1200}`, auth: "Bearer " + testAdminToken}); r.status != http.StatusOK {
		t.Fatalf("the other organiser's change: %d %s", r.status, r.body)
	}
	browse(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	waitJS(t, ctx, "the conflict, and the other change shown", `document.getElementById('e-session_seconds').innerText.includes('Someone else changed') && document.getElementById('f-session_seconds').value === '1200'`, 5*time.Second)
	if st := h.stored(testRoom); st.Session != 20*time.Minute {
		t.Fatalf("the stale change overwrote the other: session %s", st.Session)
	}

	// pause: confirmed, then the overview and the visitors' state say paused
	browse(t, ctx, chromedp.Click(chromedp.CSS(`button[data-state=paused]`)))
	waitJS(t, ctx, "the confirmation", `document.getElementById('confirm').open && document.getElementById('confirm-text').innerText.includes('paused')`, 5*time.Second)
	browse(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	waitJS(t, ctx, "paused in the overview", `document.querySelector('#rooms tbody td:nth-child(2)').innerText === 'paused'`, 5*time.Second)
	if vw, ok := h.engine.View(testRoom); !ok || vw.State != "paused" {
		t.Fatalf("visitors see %q after the pause", vw.State)
	}
	shoot(t, ctx, "gateway-dashboard-paused")

	t.Logf("visitors joined %d, admitted %d; admitted/min %.0f at the change from %d/min, %.0f %s after lowering to %d/min (%d admitted meanwhile; %d waiting at the change)",
		c.joined.Load(), c.admitted.Load(), atChange, fast, lastAdmitted, since.Round(time.Second), slow, admittedSince, statsAtChange.Waiting)
}
