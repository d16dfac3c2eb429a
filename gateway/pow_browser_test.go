package gateway

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPoWInBrowser: in real headless Chromium, a visitor of a room with proof_of_work on
// (default difficulty) is shown the queue page, solves the challenge in the Web Worker and gets
// through to the backend with no click. It also measures the worker's honest solve time at the
// default difficulty (logged; no assertion on time).
func TestPoWInBrowser(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.QueueAll = false
		r.ProofOfWork = PoWConfig{Mode: "on"} // default difficulty
		return []RoomConfig{r}
	}})
	ctx := browserTab(t, "/join", "favicon.ico") // the first join's 428 is expected
	start := time.Now()
	browse(t, ctx, chromedp.Navigate(h.srv.URL+"/book/"))
	for deadline := time.Now().Add(60 * time.Second); h.hits.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the queue page did not get through the proof-of-work within 60 s")
		}
	}
	t.Logf("page to backend with a %d-bit proof-of-work: %s", h.gw.settings(h.gw.roomSet().rooms[testRoom]).PoWDifficulty, time.Since(start).Round(time.Millisecond))
	if h.hits.Load() != 1 {
		t.Fatalf("backend hits %d", h.hits.Load())
	}

	// Solve time of the worker alone, several challenges at the default difficulty.
	time.Sleep(500 * time.Millisecond) // let the navigation to the backend's page settle
	runs, err := chromedp.Run(ctx, chromedp.Evaluate[[][2]float64](`(async () => {
		const out = [];
		for (let i = 0; i < 12; i++) {
			const w = new Worker('/foyer/static/pow.js');
			const ms = await new Promise(res => { w.onmessage = e => res([e.data.ms, e.data.tries]); w.postMessage({challenge: 'p1.festival.18.1.bench' + i + Math.random(), difficulty: 18}); });
			w.terminate();
			out.push(ms);
		}
		return out;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var ms, tries float64
	for _, r := range runs {
		ms, tries = ms+r[0], tries+r[1]
	}
	rate := tries / ms * 1000
	t.Logf("headless Chromium worker, %d challenges at 18 bits: mean %.0f ms; %.0f hashes/s, so the expected solve time at 2^bits hashes is %.2f s at 16 bits, %.2f s at 17, %.2f s at 18",
		len(runs), ms/float64(len(runs)), rate, 65536/rate, 131072/rate, 262144/rate)
}
