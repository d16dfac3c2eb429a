package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/foyerhq/foyer/admission"
)

// busyCrowd joins a room every interval and polls everyone in its line round-robin (up to
// 30 polls every 100 ms), so whoever the head reaches claims within a few seconds; the booking
// backend releases each admission 6 to 24 s later (booked). Joins past the address limit are
// refused (429). It stops when ctx ends.
func busyCrowd(ctx context.Context, base, room string, every time.Duration) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	call := func(method, path, ticket string) (statusBody, bool) {
		req, err := http.NewRequestWithContext(ctx, method, base+"/foyer/v1/rooms/"+room+path, nil)
		if err != nil {
			return statusBody{}, false
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set(admission.VisitorSecretHeader, "history-crowd-secret-0123456789abcdef")
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
		return s, resp.StatusCode == http.StatusOK && json.Unmarshal(b, &s) == nil
	}
	release := func(token string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/foyer/v1/rooms/"+room+"/release", strings.NewReader(`{"outcome":"booked"}`))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(admission.BackendKeyHeader, testBackendKey)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	admitted := func(s statusBody) {
		if s.Token != "" {
			tok := s.Token
			time.AfterFunc(6*time.Second+rand.N(18*time.Second), func() { release(tok) })
		}
	}
	var line []string
	next := 0
	join := time.NewTicker(every)
	defer join.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-join.C:
			if s, ok := call(http.MethodPost, "/join", ""); ok && !s.Admitted {
				line = append(line, s.Ticket)
			} else if ok {
				admitted(s)
			}
		case <-poll.C:
			for n := 0; n < 30 && len(line) > 0; n++ {
				next %= len(line)
				if s, ok := call(http.MethodGet, "/status", line[next]); ok && s.Admitted {
					admitted(s)
					line = append(line[:next], line[next+1:]...)
					continue
				}
				next++
			}
		}
	}
}

// historyScene is a gateway with a room whose cap binds (10 sessions of 15 s on average: 40 a
// minute, under the rate of 120) and whose visitors come from one address faster than its
// join limit (429s), opening at opens.
func historyScene(t *testing.T, opens time.Time, every time.Duration) *harness {
	t.Helper()
	h := newHarness(t, harnessOpt{
		rooms: func(b string) []RoomConfig {
			r := defaultRoom(b)
			r.DisplayName = "BIFF 2026 general sale"
			r.RatePerMinute, r.MaxActive, r.Session, r.AbsentAfter = 120, 10, time.Minute, time.Minute
			r.OpensAt, r.QueueAll = opens, false
			r.ProofOfWork = PoWConfig{Mode: "off"}
			screening := defaultRoom(b)
			screening.Name, screening.DisplayName, screening.Paths = "gala-screening", "Gala screening", []string{"/gala/"}
			return []RoomConfig{r, screening}
		},
		mod: func(c *Config) { c.Limits.JoinsPerMinute = 240 },
	})
	cctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); busyCrowd(cctx, h.srv.URL, testRoom, every) }()
	t.Cleanup(func() { stop(); wg.Wait() })
	return h
}

// signInAndPick signs in to the dashboard and opens the festival room.
func signInAndPick(t *testing.T, ctx context.Context, h *harness) {
	t.Helper()
	browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/admin/"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('signin').hidden`, 10*time.Second)
	browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\n"))
	waitJS(t, ctx, "the overview", `document.querySelectorAll('#rooms tbody tr').length === 2`, 10*time.Second)
	browse(t, ctx, chromedp.Click(chromedp.CSS(`#rooms tbody tr:first-child button`)))
	waitJS(t, ctx, "the room", `!document.getElementById('room').hidden`, 10*time.Second)
}

// overflowJS lists what sticks out sideways at the current width: the page itself, any table
// wrapper that would scroll, any element wider than the viewport.
const overflowJS = `(() => {
  const w = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > w) out.push('page ' + document.documentElement.scrollWidth + ' > ' + w);
  document.querySelectorAll('.scroll').forEach(s => { if (s.scrollWidth > s.clientWidth + 1) out.push('table ' + s.scrollWidth + ' > ' + s.clientWidth); });
  document.querySelectorAll('#dash *').forEach(e => { const r = e.getBoundingClientRect(); if (r.width && r.right > w + 1) out.push((e.id || e.tagName) + ' right ' + Math.round(r.right)); });
  return out.slice(0, 8).join('; ');
})()`

// TestDashboardPhoneLayout: at a phone's 390 px the dashboard does not scroll sideways (the
// rooms table stacks, each value labelled with its column); the history window switches
// (10 min, 1 h, whole sale) with the opening marked; refused joins show; the clear time says
// that the cap binds.
func TestDashboardPhoneLayout(t *testing.T) {
	t.Parallel()
	opens := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	h := historyScene(t, opens, 50*time.Millisecond)
	ctx := browserTab(t)
	browse(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	signInAndPick(t, ctx, h)

	if over := jsEval[string](t, ctx, overflowJS); over != "" {
		t.Errorf("at 390 px: %s", over)
	}
	if lbl := jsEval[string](t, ctx, `document.querySelector('#rooms tbody td:nth-child(3)')?.dataset.label || ''`); lbl != "Waiting" {
		t.Errorf("stacked cell label %q, want the column's name", lbl)
	}
	if disp := jsEval[string](t, ctx, `getComputedStyle(document.querySelector('#rooms tbody tr')).display`); disp != "block" {
		t.Errorf("rooms table row display %q at 390 px, want stacked (block)", disp)
	}

	// refused joins (429s past the address limit) reach the chart and the figure
	waitJS(t, ctx, "refused joins per minute", `parseFloat((document.querySelector('#room [data-k=refused]').innerText || '0').replace(/,/g, '')) > 0`, 30*time.Second)
	waitJS(t, ctx, "the refused chart", `(document.querySelector('#ch-refused polyline[data-k=rate_limited]')?.getAttribute('points') || '').trim().split(' ').length > 1`, 10*time.Second)
	// the cap binds: 10 sessions of a minute at most (15 s measured) let 10 to 40 a minute in,
	// under the rate of 120
	waitJS(t, ctx, "the clear time's reason", `document.getElementById('clear-why').innerText.includes('cap binds') && document.getElementById('clear-why').innerText.includes('120')`, 30*time.Second)

	// the windows: each asks the API for its window, and the opening (2 min ago) is marked
	for _, w := range []string{"1h", "sale", "10m"} {
		browse(t, ctx, chromedp.Click(chromedp.CSS(`#hist-window button[data-window="`+w+`"]`)))
		waitJS(t, ctx, "window "+w, `document.querySelector('#hist-window button[data-window="`+w+`"]').getAttribute('aria-pressed') === 'true'`, 5*time.Second)
		waitJS(t, ctx, "the opening marker in "+w, fmt.Sprintf(`document.querySelector('#ch-waiting line.open')?.dataset.opens === '%d'`, opens.Unix()), 15*time.Second)
		waitJS(t, ctx, "the waiting line in "+w, `(document.querySelector('#ch-waiting polyline')?.getAttribute('points') || '').trim().split(' ').length > 1`, 20*time.Second)
	}
	if over := jsEval[string](t, ctx, overflowJS); over != "" {
		t.Errorf("at 390 px after the charts filled: %s", over)
	}
}

// TestDashboardScreenshots makes docs/img/dashboard-{laptop,phone}.png from a live scene: a
// pre-queue, the opening, a cap that binds, joins refused past the address limit. It runs for
// about two minutes, only when FOYER_DOCS_SCREENSHOTS names the directory to write to.
func TestDashboardScreenshots(t *testing.T) {
	dir := os.Getenv("FOYER_DOCS_SCREENSHOTS")
	if dir == "" {
		t.Skip("set FOYER_DOCS_SCREENSHOTS=docs/img (from the repository root: $PWD/docs/img) to make the screenshots")
	}
	opens := time.Now().Add(30 * time.Second).Truncate(time.Second)
	h := historyScene(t, opens, 100*time.Millisecond)
	time.Sleep(time.Until(opens.Add(100 * time.Second)))
	shot := func(name string, w, hgt int64, scrollTo string) {
		ctx := browserTab(t)
		browse(t, ctx, chromedp.EmulateViewport(w, hgt, chromedp.EmulateScale(1)))
		signInAndPick(t, ctx, h)
		waitJS(t, ctx, "the charts", `(document.querySelector('#ch-waiting polyline')?.getAttribute('points') || '').trim().split(' ').length > 30`, 20*time.Second)
		waitJS(t, ctx, "the reason", `document.getElementById('clear-why').innerText.length > 0`, 20*time.Second)
		if scrollTo != "" {
			browse(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('`+scrollTo+`').scrollIntoView({block: 'start'})`))
			time.Sleep(300 * time.Millisecond)
		}
		buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot("dashboard-laptop", 1366, 900, "#h-room")
	shot("dashboard-phone", 390, 844, "")
	shot("dashboard-phone-charts", 390, 844, ".hist-head")
}

// TestDashboardSaleWindowReachesTheOpening: before the opening, the whole-sale window runs to
// the opening, so the organiser sees it coming (the marker in view), and the line is drawn up
// to now only, never into the future.
func TestDashboardSaleWindowReachesTheOpening(t *testing.T) {
	t.Parallel()
	opens := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	h := historyScene(t, opens, 50*time.Millisecond)
	ctx := browserTab(t)
	signInAndPick(t, ctx, h)
	browse(t, ctx, chromedp.Click(chromedp.CSS(`#hist-window button[data-window="sale"]`)))
	waitJS(t, ctx, "the opening marker two hours ahead", fmt.Sprintf(`document.querySelector('#ch-waiting line.open')?.dataset.opens === '%d'`, opens.Unix()), 20*time.Second)
	// the last point of the waiting line is left of the marker (now, not the opening)
	waitJS(t, ctx, "the waiting line", `(document.querySelector('#ch-waiting polyline')?.getAttribute('points') || '').trim().split(' ').filter(Boolean).length > 1`, 20*time.Second)
	if ok := jsEval[bool](t, ctx, `(() => {
		const pl = document.querySelector('#ch-waiting polyline'), mk = document.querySelector('#ch-waiting line.open');
		const xs = pl.getAttribute('points').trim().split(' ').filter(Boolean).map(p => parseFloat(p.split(',')[0]));
		return xs.length > 1 && xs.every(isFinite) && Math.max(...xs) < parseFloat(mk.getAttribute('x1'));
	})()`); !ok {
		t.Error("the waiting line is drawn past now, up to the opening")
	}
}
