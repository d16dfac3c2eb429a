package web

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserReentryWords: in real Chromium, in Korean and English, a visitor whose booking
// failed and who has a second chance is told so while waiting in the re-entry line (from the
// server's render and from the script), and on the way back in: the reason, a "go back in"
// button, and a redirect that waits long enough to read them (the button goes at once).
func TestBrowserReentryWords(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	for _, lang := range Langs() {
		t.Run(lang, func(t *testing.T) {
			c := s.catalogs[lang]
			f, srv := newFakeGateway(t, s)
			f.set(func(f *fakeGateway) { f.reentry = true; f.head = 48 }) // the ticket is 50: place 2 in the re-entry line
			tb := newTab(t, false)
			tb.do(t, chromedp.Navigate(srv.URL+"/book?foyer_lang="+lang))
			tb.waitFor(t, "the re-entry line", `!document.getElementById('p-wait').hidden && !document.getElementById('reentry').hidden`, 10*time.Second)
			if got := tb.text(t, "#reentry"); got != c.text("qjs_reentry_wait") {
				t.Errorf("re-entry note %q, want %q", got, c.text("qjs_reentry_wait"))
			}
			if got := tb.text(t, "#p-wait [data-f=place]"); got != "2" {
				t.Errorf("place in the re-entry line %q, want 2", got)
			}
			// reloaded: the server's render says the same before any script runs
			tb.do(t, chromedp.Reload())
			if got := tb.text(t, "#reentry"); got != c.text("qjs_reentry_wait") {
				t.Errorf("server-rendered re-entry note %q", got)
			}
			tb.screenshot(t, "queue-reentry-wait-"+lang)

			// the second chance comes: said why, with the button, before going
			f.set(func(f *fakeGateway) { f.head = 60 })
			tb.waitFor(t, "going back in", `!document.getElementById('p-turn').hidden && !document.getElementById('reentry').hidden`, 10*time.Second)
			if got := tb.text(t, "#reentry"); got != c.text("qjs_reentry_turn") {
				t.Errorf("re-entry turn note %q, want %q", got, c.text("qjs_reentry_turn"))
			}
			if got := tb.text(t, "#go"); got != c.text("qjs_reentry_button") {
				t.Errorf("button %q, want %q", got, c.text("qjs_reentry_button"))
			}
			if p := eval[string](t, tb, `location.pathname`); p != "/book" {
				t.Errorf("left at once for %s: the visitor had no time to read why", p)
			}
			tb.screenshot(t, "queue-reentry-turn-"+lang)
			tb.waitFor(t, "the booking page", `location.pathname === '/booked'`, 15*time.Second)

			// a visitor without a second chance is not told about one
			f.set(func(f *fakeGateway) { f.reentry = false; f.head = 10 })
			tb.do(t, chromedp.Navigate(srv.URL+"/book?foyer_lang="+lang))
			tb.waitFor(t, "the line", `!document.getElementById('p-wait').hidden`, 10*time.Second)
			if !eval[bool](t, tb, `document.getElementById('reentry').hidden`) {
				t.Errorf("re-entry note shown without a second chance")
			}
		})
	}
}
