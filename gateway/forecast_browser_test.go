package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"
)

// TestDashboardForecastAndOutcomesPanels: in real Chromium against the real gateway, before the
// opening the forecast panel shows the line expected at the opening as a range, the joins so
// far and the pace (here the cap's turnover, and says so); the outcomes panel charts the
// minutes recorded in Redis (crafted: 4 then 6 booked a minute).
func TestDashboardForecastAndOutcomesPanels(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{rooms: func(backend string) []RoomConfig {
		r := defaultRoom(backend)
		r.OpensIn = 10 * time.Minute
		return []RoomConfig{r}
	}})
	for i := 0; i < 5; i++ {
		h.visitor().join(testRoom)
	}
	ctx0 := context.Background()
	tm, err := h.rdb.Time(ctx0).Result()
	if err != nil {
		t.Fatal(err)
	}
	m := tm.Unix() / 60
	key := h.prefix + ":{" + testRoom + "}:minutes"
	for i, c := range [][2]int64{{0, 0}, {4, 1}, {10, 2}} { // booked, flagged: cumulative
		mm := m - 3 + int64(i)
		h.rdb.ZAdd(ctx0, key, redis.Z{Score: float64(mm), Member: fmt.Sprintf("%d|0|0|0|%d|0|0|0|0|%d", mm, c[0], c[1])})
	}

	ctx := browserTab(t)
	browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/admin/"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('signin').hidden`, 10*time.Second)
	browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\n"))
	waitJS(t, ctx, "the overview", `document.querySelector('#rooms tbody button')?.innerText.includes('festival')`, 10*time.Second)
	browse(t, ctx, chromedp.Click(chromedp.CSS("#rooms tbody button")))
	fc := func(k string) string {
		return `(document.querySelector('#forecast [data-fc=` + k + `]')?.innerText || '')`
	}
	waitJS(t, ctx, "the forecast", fc("line")+`.includes('–') && `+fc("line")+` !== '–' && `+fc("joins")+`.includes('/min') && `+
		fc("pace")+`.startsWith('10/min') && `+fc("pace")+`.includes("cap's turnover") && `+fc("clear")+` !== '–' && `+
		`document.getElementById('fc-note').innerText.includes('so far 5')`, 15*time.Second)
	// 6 booked a minute on a 0..10 scale: y = 120 - 16 - 0.6 * 98 = 45.2
	waitJS(t, ctx, "the outcomes chart", `(document.querySelector('#ch-outcomes polyline[data-k=booked]')?.getAttribute('points') || '').includes(',45.2') &&
		(document.querySelector('#ch-outcomes polyline[data-k=flagged]')?.getAttribute('points') || '').split(' ').filter(Boolean).length >= 2 &&
		document.getElementById('oc-note').innerText.startsWith('Last minute:')`, 20*time.Second)
	// second chances, from the room's live figures (the default share, 10%)
	waitJS(t, ctx, "the second chances line", `document.getElementById('oc-reentry').innerText.startsWith('Second chances: 0 granted') &&
		document.getElementById('oc-reentry').innerText.includes('(share of the rate: 10%)')`, 15*time.Second)
	shoot(t, ctx, "gateway-dashboard-forecast")
}
