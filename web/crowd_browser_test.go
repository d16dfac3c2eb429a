package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The queue page with real crowds (issue 11): phones that hide the page, alerts near the
// front, progress and places that survive reloads, refusals said in words, stalled lines.

// setVisibility makes the page believe it is hidden or visible, as a phone's lock or an app
// switch does, and fires visibilitychange.
func (tb *tabT) setVisibility(t *testing.T, hidden bool) {
	t.Helper()
	state := "visible"
	if hidden {
		state = "hidden"
	}
	eval[bool](t, tb, fmt.Sprintf(`(() => {
		if (!window.__visSet) {
			window.__visSet = true;
			Object.defineProperty(Document.prototype, 'visibilityState', {configurable: true, get() { return window.__vis; }});
			Object.defineProperty(Document.prototype, 'hidden', {configurable: true, get() { return window.__vis === 'hidden'; }});
		}
		window.__vis = %q;
		document.dispatchEvent(new Event('visibilitychange'));
		return true;
	})()`, state))
}

// waitQuiet waits until the fake gateway's last request from the page is at least d old, so
// that what follows cannot be mistaken for an ordinary poll (the page stamps its polls when it
// sends them, before the gateway sees them).
func (f *fakeGateway) waitQuiet(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		last := f.lastAt
		f.mu.Unlock()
		if time.Since(last) > d {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page kept asking: no %s without a request", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPolls waits until the fake gateway has answered more than n status polls.
func (f *fakeGateway) waitPolls(t *testing.T, what string, n int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		f.mu.Lock()
		p := f.polls
		f.mu.Unlock()
		if p > n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d status polls, want more than %d within %s", what, p, n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fakeGateway) count() (polls, joins int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls, f.joins
}

func TestBrowserPollsAtOnceWhenVisibleAgain(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	f.set(func(f *fakeGateway) { f.pollMS = 30000 }) // the next regular poll is far away
	tb := newTab(t, false)
	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	tb.waitFor(t, "place 50", `document.querySelector('#p-wait:not([hidden]) [data-f=place]')?.innerText === '50'`, 10*time.Second)

	// Hidden (the phone locks): one status request at once tells the gateway the visitor
	// was here as late as possible, before iOS stops the page.
	f.waitQuiet(t, 2100*time.Millisecond)
	polls, _ := f.count()
	tb.setVisibility(t, true)
	polls = f.waitPolls(t, "hidden", polls, 5*time.Second)

	// Visible again: the page asks at once rather than at its next 30 s poll.
	f.waitQuiet(t, 1100*time.Millisecond)
	f.set(func(f *fakeGateway) { f.head = 10 })
	tb.setVisibility(t, false)
	f.waitPolls(t, "visible again", polls, 5*time.Second)
	tb.waitFor(t, "the new place", `document.querySelector('#p-wait [data-f=place]').innerText === '40'`, 5*time.Second)

}

func TestBrowserPollsAtOnceAfterFreeze(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	f.set(func(f *fakeGateway) { f.pollMS = 30000 })
	tb := newTab(t, false)
	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	tb.waitFor(t, "place 50", `document.querySelector('#p-wait:not([hidden]) [data-f=place]')?.innerText === '50'`, 10*time.Second)
	f.waitQuiet(t, 2100*time.Millisecond)
	polls, _ := f.count()
	lifecycle := func(st page.SetWebLifecycleStateState) {
		t.Helper()
		if _, err := chromedp.Run(tb.ctx, func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Call(ctx, page.SetWebLifecycleState, page.SetWebLifecycleStateParams{State: st})
			return chromedp.Void{}, err
		}); err != nil {
			t.Fatalf("lifecycle %s: %v", st, err)
		}
	}
	// Frozen, as Chrome does to a hidden tab and as a locked phone stops a page: it is hidden
	// first, and the page says it is there before its timers stop.
	lifecycle(page.SetWebLifecycleStateStateFrozen)
	polls = f.waitPolls(t, "hidden, then frozen", polls, 5*time.Second)
	// Thawed (still hidden: no visibilitychange): it asks at once, not 30 s later.
	f.set(func(f *fakeGateway) { f.head = 10 })
	lifecycle(page.SetWebLifecycleStateStateActive)
	f.waitPolls(t, "resumed", polls, 5*time.Second)
	tb.waitFor(t, "the new place", `document.querySelector('#p-wait [data-f=place]').innerText === '40'`, 5*time.Second)
}

// alertStubs records what the page asks of the device: vibration, notifications, sound.
const alertStubs = `
window.__vib = []; window.__notes = []; window.__beeps = 0;
Object.defineProperty(navigator, 'vibrate', {configurable: true, value: p => { window.__vib.push(p); return true; }});
window.Notification = class { constructor(t, o) { window.__notes.push(t + ' | ' + (o && o.body)); } close() {} };
Notification.permission = 'default';
Notification.requestPermission = () => { Notification.permission = 'granted'; return Promise.resolve('granted'); };
window.AudioContext = class {
	constructor() { this.state = 'running'; this.currentTime = 0; this.destination = {}; }
	resume() { return Promise.resolve(); }
	createOscillator() { return {frequency: {}, connect() {}, start() { window.__beeps++; }, stop() {}}; }
	createGain() { return {gain: {setValueAtTime() {}, exponentialRampToValueAtTime() {}}, connect() {}}; }
};`

func TestBrowserNearFrontAlert(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	tb := newTab(t, false)
	if _, err := chromedp.Run(tb.ctx, func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: alertStubs})
		return chromedp.Void{}, err
	}); err != nil {
		t.Fatal(err)
	}
	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	tb.waitFor(t, "place 50", `document.querySelector('#p-wait:not([hidden]) [data-f=place]')?.innerText === '50'`, 10*time.Second)
	if got := eval[string](t, tb, `document.title`); got != "#50 · Waiting room · Busan Film Festival 2026" {
		t.Errorf("title %q", got)
	}
	// Far from the front: nothing rings.
	if n := eval[int](t, tb, `window.__vib.length + window.__notes.length`); n != 0 {
		t.Errorf("alerts at place 50: %d", n)
	}

	// The visitor opts in (a tap: sound and vibration are allowed from then on).
	tb.do(t, chromedp.Click(chromedp.CSS(`#alert`)))
	tb.waitFor(t, "alerts on", `document.getElementById('alert-state').innerText === 'Alerts are on for this page.' && document.getElementById('alert').hidden`, 5*time.Second)

	// The phone goes down; the line moves to place 3.
	tb.setVisibility(t, true)
	f.set(func(f *fakeGateway) { f.head = 47 })
	tb.waitFor(t, "the near-the-front title", `document.title === 'Almost your turn! · #3 · Waiting room · Busan Film Festival 2026'`, 5*time.Second)
	if v := eval[string](t, tb, `JSON.stringify(window.__vib)`); v != "[[200,100,200]]" {
		t.Errorf("vibrate calls %s, want one [200,100,200]", v)
	}
	if v := eval[string](t, tb, `JSON.stringify(window.__notes)`); v != `["Almost your turn! | You are number 3 in line. Come back to the waiting room."]` {
		t.Errorf("notifications %s", v)
	}
	if n := eval[int](t, tb, `window.__beeps`); n < 2 { // one when opting in, one near the front
		t.Errorf("%d sounds, want 2", n)
	}
	tb.waitFor(t, "the live region", `document.getElementById('live').textContent.startsWith('Almost your turn')`, 3*time.Second)
	// Hidden, the title flashes so the tab catches the eye.
	tb.waitFor(t, "the title to flash", `document.title === '#3 · Waiting room · Busan Film Festival 2026'`, 5*time.Second)

	// Back on the page: the title holds still, and a further step does not ring again.
	tb.setVisibility(t, false)
	tb.waitFor(t, "a steady title", `document.title.startsWith('Almost your turn!')`, 5*time.Second)
	f.set(func(f *fakeGateway) { f.head = 48 })
	tb.waitFor(t, "place 2", `document.querySelector('#p-wait [data-f=place]').innerText === '2'`, 5*time.Second)
	if n := eval[int](t, tb, `window.__vib.length + window.__notes.length`); n != 2 {
		t.Errorf("alerts after a further step: %d, want still 2", n)
	}
}

func TestBrowserProgressAndBestPlaceSurviveReload(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	f.set(func(f *fakeGateway) { f.noJoinedOnStatus = true; f.pollMS = 30000 }) // joined_place on the join only
	tb := newTab(t, false)
	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	tb.waitFor(t, "place 50", `document.querySelector('#p-wait:not([hidden]) [data-f=place]')?.innerText === '50'`, 10*time.Second)
	f.set(func(f *fakeGateway) { f.head = 20 })
	tb.do(t, chromedp.Reload())
	tb.waitFor(t, "the script's place", `document.title.startsWith('#30 ')`, 10*time.Second)
	// The page in place knows only the place now; the bar still runs from the place at join.
	if v := eval[string](t, tb, `(p => p.value + '/' + p.max)(document.getElementById('prog'))`); v != "20/49" {
		t.Errorf("progress after reload %s, want 20/49", v)
	}

	// The gateway answers a higher place (a replica a step behind): the page keeps the best.
	f.set(func(f *fakeGateway) { f.head = 15 })
	tb.do(t, chromedp.Reload())
	tb.waitFor(t, "the script's place", `document.title.startsWith('#30 ')`, 10*time.Second)
	if got := tb.text(t, "#p-wait [data-f=place]"); got != "30" {
		t.Errorf("place after reload %q, want 30 (never higher than shown)", got)
	}
	if got := tb.text(t, "#p-wait [data-f=ahead]"); got != "29" {
		t.Errorf("ahead %q", got)
	}

	// Unless the gateway says it had to raise it: then the page says so, plainly.
	f.set(func(f *fakeGateway) { f.notice = "place_rose" })
	tb.do(t, chromedp.Reload())
	tb.waitFor(t, "the raised place", `document.title.startsWith('#35 ') && !document.getElementById('rose').hidden`, 10*time.Second)
	if got := tb.text(t, "#rose"); !strings.Contains(got, "from 30 to 35") {
		t.Errorf("notice %q", got)
	}
}

func TestBrowserRefusalsKeepThePlace(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	f, srv := newFakeGateway(t, s)
	f.set(func(f *fakeGateway) { f.joinFail = []int{429, 429}; f.retryAfter = "1" })
	tb := newTab(t, true) // the refusals are logged by the browser as failed loads
	tb.do(t, chromedp.Navigate(srv.URL+"/book"))
	tb.waitFor(t, "the words for a refused join", `!document.getElementById('problem').hidden && !document.getElementById('p-joining').hidden`, 10*time.Second)
	if got := tb.text(t, "#problem"); !strings.HasPrefix(got, "Lots of people are joining right now. This page tries again by itself in about ") {
		t.Errorf("refused join says %q", got)
	}
	noCode := func(when string) {
		t.Helper()
		if got := tb.text(t, "main"); strings.Contains(got, "429") || strings.Contains(got, "503") || strings.Contains(strings.ToLower(got), "error") {
			t.Errorf("%s: the page shows a status code: %q", when, got)
		}
	}
	noCode("join refused")
	// It tries again by itself (after Retry-After) and gets its place.
	tb.waitFor(t, "place 50", `document.querySelector('#p-wait:not([hidden]) [data-f=place]')?.innerText === '50' && document.getElementById('problem').hidden`, 10*time.Second)

	// Status refused, the gateway down, the network gone: words, the place kept, no new join.
	f.set(func(f *fakeGateway) { f.statusFail = []int{429, 429} })
	tb.waitFor(t, "the words for a refused poll", `document.getElementById('problem').innerText.startsWith('The waiting room is very busy.')`, 5*time.Second)
	noCode("status refused")
	if got := tb.text(t, "#p-wait [data-f=place]"); got != "50" {
		t.Errorf("place while refused %q", got)
	}
	tb.waitFor(t, "recovered", `document.getElementById('problem').hidden`, 10*time.Second)
	f.set(func(f *fakeGateway) { f.statusFail = []int{503, -1}; f.retryAfter = "" })
	tb.waitFor(t, "reconnecting", `!document.getElementById('recon').hidden`, 5*time.Second)
	noCode("gateway down")
	if got := tb.text(t, "#p-wait [data-f=place]"); got != "50" {
		t.Errorf("place while down %q", got)
	}
	f.set(func(f *fakeGateway) { f.head = 5 })
	tb.waitFor(t, "back with a new place", `document.getElementById('recon').hidden && document.querySelector('#p-wait [data-f=place]').innerText === '45'`, 15*time.Second)
	if _, joins := f.count(); joins != 3 {
		t.Errorf("%d joins, want 3 (two refused, one taken; the ticket kept through every failure)", joins)
	}
}

func TestBrowserStalledPausedReturningSoldOutWords(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	for _, lang := range Langs() {
		t.Run(lang, func(t *testing.T) {
			c := s.catalogs[lang]
			f, srv := newFakeGateway(t, s)
			f.set(func(f *fakeGateway) { f.stalled = "sessions" })
			tb := newTab(t, false)
			tb.do(t, chromedp.Navigate(srv.URL+"/book?foyer_lang="+lang))
			tb.waitFor(t, "the stalled line", `!document.getElementById('p-wait').hidden && !document.getElementById('stalled').hidden`, 10*time.Second)
			if got := tb.text(t, "#p-wait [data-f=eta]"); got != c.text("qjs_stalled_eta") {
				t.Errorf("eta %q, want %q", got, c.text("qjs_stalled_eta"))
			}
			if got := tb.text(t, "#stalled"); got != c.text("qjs_stalled_body") {
				t.Errorf("stalled note %q", got)
			}
			// Reloaded, the server's render says the same before any script.
			tb.do(t, chromedp.Reload())
			if got := tb.text(t, "#p-wait [data-f=eta]"); got != c.text("qjs_stalled_eta") {
				t.Errorf("server-rendered eta %q", got)
			}

			f.set(func(f *fakeGateway) { f.stalled = "paused" })
			tb.waitFor(t, "paused", `!document.getElementById('p-paused').hidden`, 5*time.Second)
			if got := tb.text(t, "#h-paused"); got != c.text("q_paused_title") {
				t.Errorf("paused heading %q", got)
			}
			if got := tb.text(t, "#p-paused [data-f=place]"); got != "50" {
				t.Errorf("paused place %q", got)
			}

			f.set(func(f *fakeGateway) { f.stalled = ""; f.returning = true })
			tb.waitFor(t, "returning", `!document.getElementById('p-wait').hidden && !document.getElementById('returning').hidden`, 5*time.Second)
			if got := tb.text(t, "#returning"); got != c.text("qjs_returning") {
				t.Errorf("returning note %q", got)
			}
			if got := tb.text(t, "#p-wait [data-f=eta]"); got == c.text("qjs_stalled_eta") {
				t.Errorf("eta still stalled after the line moved")
			}

			// fewer left than the place: said plainly, with how many are ahead (issue 14)
			f.set(func(f *fakeGateway) { f.returning = false; f.remaining = 3 })
			tb.waitFor(t, "stock low", `!document.getElementById('stock').hidden`, 5*time.Second)
			want := strings.NewReplacer("{left}", "3", "{ahead}", "49").Replace(c.text("qjs_stock_low"))
			if got := tb.text(t, "#stock"); got != want {
				t.Errorf("stock note %q, want %q", got, want)
			}

			f.set(func(f *fakeGateway) { f.state = "sold_out" })
			tb.waitFor(t, "sold out", `!document.getElementById('p-soldout').hidden && document.getElementById('returning').hidden`, 5*time.Second)
			if got := tb.text(t, "#h-soldout"); got != c.text("q_soldout_title") {
				t.Errorf("sold out heading %q", got)
			}
		})
	}
}
