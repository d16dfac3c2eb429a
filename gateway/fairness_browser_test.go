package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/foyerhq/foyer/queue"
)

// TestFairnessPageInBrowser: in real Chromium against the real gateway, a visitor in the
// pre-queue sees their pre-queue number on the queue page; after the opening the fairness page
// (English and Korean) checks the revealed seed against the commitment and gives their place,
// which matches the place foyer gave them, and says so when it does not; the page's JavaScript
// verifier reproduces every published test vector (queue/testdata/shuffle-vectors.json).
func TestFairnessPageInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browserTab(t) // the browser first: it takes a while to start, and the room opens in 9 s
	h := prequeueHarness(t, 9*time.Second)
	browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/rooms/"+testRoom))
	waitNav(t, ctx, "the pre-queue number", `!document.getElementById('p-pre').hidden &&
		!document.querySelector('#p-pre .pqn').hidden && +document.querySelector('#p-pre [data-f=pqn]').innerText > 0`, 10*time.Second)
	n := int64(jsEval[float64](t, ctx, `+document.querySelector('#p-pre [data-f=pqn]').innerText`))
	if href := jsEval[string](t, ctx, `document.querySelector('#p-pre a[data-verify]').href`); !strings.Contains(href, "/fairness#n="+strconv.FormatInt(n, 10)) {
		t.Fatalf("the check link %q does not carry the pre-queue number %d", href, n)
	}
	shoot(t, ctx, "gateway-prequeue-number")
	for i := 0; i < 3; i++ {
		h.visitor().join(testRoom)
	}
	f := waitOpened(t, h)
	p := f.PrequeueSize
	if p != 4 {
		t.Fatalf("pre-queue size %d, want 4", p)
	}
	pos := queue.VerifyPrequeuePlace(mustHex(t, f.Seed), p, n)
	page := h.srv.URL + "/foyer/v1/rooms/" + testRoom + "/fairness"
	browse(t, ctx, chromedp.Navigate(fmt.Sprintf("%s?foyer_lang=en#n=%d&pos=%d", page, n, pos)))
	want := fmt.Sprintf("Pre-queue number %d had place %d of 4 in line.", n, pos)
	waitJS(t, ctx, "the verifier's answer", fmt.Sprintf(`(() => { const o = document.getElementById('v-out').innerText;
		return o.includes('The seed matches the commitment') && o.includes(%q) && o.includes('This is the place the waiting page gave you'); })()`, want), 10*time.Second)
	if h1 := jsEval[string](t, ctx, `document.querySelector('h1').innerText`); h1 != "Fairness record" {
		t.Fatalf("heading %q", h1)
	}
	shoot(t, ctx, "gateway-fairness-en")

	// the JavaScript verifier against the published vectors
	raw, err := os.ReadFile("../queue/testdata/shuffle-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	res := jsEval[map[string]any](t, ctx, `(() => { const v = `+string(raw)+`; let pairs = 0; const bad = [];
		for (const x of v.vectors) {
			if (foyerVerify.commitment(x.seed) !== x.commitment) bad.push('commitment ' + x.seed);
			for (const [n, want] of x.pairs) { pairs++; const got = foyerVerify.place(x.seed, x.p, n); if (got !== want) bad.push(x.seed.slice(0, 8) + ' P=' + x.p + ' n=' + n + ': ' + got + ' want ' + want); }
		}
		return {pairs, vectors: v.vectors.length, bad: bad.slice(0, 5), nbad: bad.length}; })()`)
	t.Logf("JS verifier: %v vectors, %v pairs, %v wrong", res["vectors"], res["pairs"], res["nbad"])
	if res["nbad"].(float64) != 0 || res["pairs"].(float64) < 200 {
		t.Fatalf("JS verifier against the vectors: %v", res)
	}

	// a place that is not the permutation's is called out
	wrong := pos%p + 1
	browse(t, ctx, chromedp.Navigate(fmt.Sprintf("%s?foyer_lang=ko#n=%d&pos=%d", page, n, wrong)))
	waitJS(t, ctx, "the Korean verifier's answer", fmt.Sprintf(`(() => { const o = document.getElementById('v-out').innerText;
		return document.documentElement.lang === 'ko' && o.includes('약속값과 일치합니다') && o.includes('%d번째라고 알려 주었습니다'); })()`, wrong), 10*time.Second)
	if h1 := jsEval[string](t, ctx, `document.querySelector('h1').innerText`); h1 != "공정성 기록" {
		t.Fatalf("Korean heading %q", h1)
	}
	shoot(t, ctx, "gateway-fairness-ko")
}

// TestFeedbackPromptInBrowser: in real Chromium against the real gateway, a waiting visitor
// whose sale closes is asked how the wait was (English, then a second visitor in Korean); one
// tap sends the rating with the comment typed; organisers see both on the dashboard's feedback
// panel.
func TestFeedbackPromptInBrowser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.MaxActive, r.QueueAll = 1, false
		return []RoomConfig{r}
	}})
	holder := h.visitor()
	holder.join(testRoom)
	holder.waitAdmitted(testRoom, 5*time.Second) // holds the only slot: the browser waits
	ctx := browserTab(t)
	setState := func(st string) {
		t.Helper()
		if r := h.call(adminCall{method: http.MethodPatch, path: "/foyer/admin/v1/rooms/" + testRoom, body: `{"state":"` + st + `"}`}); r.status != 200 {
			t.Fatalf("state %s: %d %s", st, r.status, r.body)
		}
	}
	for _, c := range []struct {
		lang, title, comment, thanks string
		rating                       int
	}{
		{"en", "How was the wait?", "fair, but long", "Thank you", 4},
		{"ko", "기다리는 동안 어떠셨나요?", "괜찮았어요", "감사합니다", 5},
	} {
		if _, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{})
			return chromedp.Void{}, err
		}); err != nil {
			t.Fatal(err) // a new visitor for each language
		}
		browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/rooms/"+testRoom+"?foyer_lang="+c.lang))
		browse(t, ctx, chromedp.Evaluate[chromedp.Void](`localStorage.clear()`))
		waitJS(t, ctx, "waiting ("+c.lang+")", `!document.getElementById('p-wait').hidden && document.getElementById('fb') === null`, 10*time.Second)
		setState("closed")
		waitJS(t, ctx, "the feedback prompt ("+c.lang+")", fmt.Sprintf(`!document.getElementById('p-closed').hidden &&
			document.getElementById('fb') && !document.getElementById('fb').hidden && document.getElementById('h-fb').innerText === %q`, c.title), 15*time.Second)
		shoot(t, ctx, "gateway-feedback-prompt-"+c.lang)
		browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#fb-comment"), c.comment),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#fb button[data-rating="%d"]`, c.rating))))
		waitJS(t, ctx, "thanks ("+c.lang+")", fmt.Sprintf(`!document.getElementById('fb-thanks').hidden && document.getElementById('fb-thanks').innerText.includes(%q) &&
			document.getElementById('fb-form').hidden`, c.thanks), 10*time.Second)
		setState("open")
	}
	r := h.call(adminCall{method: http.MethodGet, path: "/foyer/admin/v1/rooms/" + testRoom + "/feedback"})
	var fb adminFeedbackBody
	if err := json.Unmarshal(r.body, &fb); err != nil || fb.Total != 2 || fb.Counts["4"] != 1 || fb.Counts["5"] != 1 || len(fb.Newest) != 2 {
		t.Fatalf("feedback stored: %s", r.body)
	}

	// the organisers' panel
	browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/admin/?foyer_lang=en"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('signin').hidden`, 10*time.Second)
	browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\n"))
	waitJS(t, ctx, "the overview", `document.querySelector('#rooms tbody button')?.innerText.includes('festival')`, 10*time.Second)
	browse(t, ctx, chromedp.Click(chromedp.CSS("#rooms tbody button")))
	waitJS(t, ctx, "the feedback panel", `(() => { const p = document.getElementById('fb-panel'); return p && !p.hidden &&
		p.innerText.includes('2 ratings, 2 comments') && p.querySelector('tr[data-rating="4"]')?.innerText.includes('1') &&
		p.querySelector('#fb-comments')?.innerText.includes('괜찮았어요') && p.querySelector('#fb-comments')?.innerText.includes('fair, but long'); })()`, 15*time.Second)
	shoot(t, ctx, "gateway-dashboard-feedback")
}

// waitNav is waitJS that asks again in the new document when the page navigated meanwhile (the
// queue page reloads itself, or goes in).
func waitNav(t *testing.T, ctx context.Context, what, js string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if time.Until(deadline) <= 0 || !strings.Contains(err.Error(), "navigated") {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " | " + (document.querySelector("main") || document.body).innerText.replace(/\s+/g, " ").slice(0, 600)`))
			t.Fatalf("waiting for %s: %v; page: %s", what, err, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
