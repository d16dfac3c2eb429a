package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/foyerhq/foyer/admission"
)

// TestReentryInBrowser: in real headless Chromium, against a real gateway over real Redis, in
// Korean and English: a visitor goes in, the box office's booking fails and it reports failed
// with its backend key (the admission cookie it was sent), and links back to the queue page;
// there the visitor is told why they go back in without queueing again, sees the button, and is
// taken back to the booking page for a second admission.
func TestReentryInBrowser(t *testing.T) {
	for _, lang := range []string{"en", "ko"} {
		t.Run(lang, func(t *testing.T) {
			var msgs map[string]string
			b, err := os.ReadFile("../web/i18n/" + lang + ".json")
			if err != nil || json.Unmarshal(b, &msgs) != nil {
				t.Fatalf("catalogue %s: %v", lang, err)
			}
			var gateway string
			var pages, releases atomic.Int64
			office := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if r.URL.Path != "/book/fail" {
					pages.Add(1)
					_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Box office</title><link rel="icon" href="data:,"><h1>Booking page</h1></html>`)
					return
				}
				// the booking failed: report it, then send the visitor back to the queue page (in
				// the site's language)
				c, err := r.Cookie(admission.CookieNameFor(testRoom))
				if err != nil {
					http.Error(w, "no admission", http.StatusBadRequest)
					return
				}
				req, _ := http.NewRequest(http.MethodPost, gateway+"/foyer/v1/rooms/"+testRoom+"/release", strings.NewReader(`{"outcome":"failed"}`))
				req.Header.Set("Authorization", "Bearer "+c.Value)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(admission.BackendKeyHeader, testBackendKey)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					if resp.StatusCode == http.StatusNoContent {
						releases.Add(1)
					}
					resp.Body.Close()
				}
				_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Box office</title><link rel="icon" href="data:,"><h1>Booking failed</h1><p><a id="back" href="/foyer/rooms/`+testRoom+`?foyer_lang=`+lang+`">Back</a></p></html>`)
			}))
			t.Cleanup(office.Close)
			h := newHarness(t, harnessOpt{rooms: func(string) []RoomConfig { return []RoomConfig{defaultRoom(office.URL)} }})
			gateway = h.srv.URL
			ctx := browserTab(t)

			browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/rooms/"+testRoom+"?foyer_lang="+lang))
			waitAcross(t, ctx, "the booking page", `location.pathname === '/book/' && document.querySelector('h1')?.innerText === 'Booking page'`, 20*time.Second)
			browse(t, ctx, chromedp.Navigate(h.srv.URL+"/book/fail"))
			waitAcross(t, ctx, "the failure page", `document.querySelector('h1')?.innerText === 'Booking failed'`, 10*time.Second)
			if releases.Load() != 1 {
				t.Fatalf("the box office's failed report was not accepted (%d)", releases.Load())
			}
			jsEval[bool](t, ctx, `document.getElementById('back').click(), true`) // the visitor follows the link
			waitAcross(t, ctx, "the second chance", `!!document.getElementById('reentry') && !document.getElementById('reentry').hidden`, 10*time.Second)
			got := jsEval[string](t, ctx, `document.getElementById('reentry').innerText`)
			if got != msgs["qjs_reentry_wait"] && got != msgs["qjs_reentry_turn"] {
				t.Fatalf("re-entry note %q", got)
			}
			waitJS(t, ctx, "going back in", `!document.getElementById('p-turn').hidden && document.getElementById('reentry').innerText === `+jsString(msgs["qjs_reentry_turn"])+
				` && document.getElementById('go').innerText === `+jsString(msgs["qjs_reentry_button"]), 15*time.Second)
			shoot(t, ctx, "reentry-turn-"+lang)
			waitAcross(t, ctx, "back on the booking page", `location.pathname === '/book/' && document.querySelector('h1')?.innerText === 'Booking page'`, 20*time.Second)
			if pages.Load() != 2 {
				t.Fatalf("booking page served %d times, want 2 (first admission, second chance)", pages.Load())
			}
			st, err := h.engine.Stats(t.Context(), testRoom)
			if err != nil || st.Reentry.GrantedBackend != 1 || st.Reentry.Used != 1 {
				t.Fatalf("stats %+v %v", st.Reentry, err)
			}
		})
	}
}

// waitAcross is waitJS for a predicate that holds only after the page navigates (a redirect):
// an evaluation cut short by the navigation is asked again.
func waitAcross(t *testing.T, ctx context.Context, what, js string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + ': ' + document.body.innerText.replace(/\s+/g, " ").slice(0, 400)`))
			t.Fatalf("waiting for %s: %v; page %s", what, err, page)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
