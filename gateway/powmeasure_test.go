package gateway

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// measuring skips a measurement unless FOYER_MEASURE=1: these runs take minutes and report
// figures (docs/trust.md), they are not part of the suite.
func measuring(t *testing.T) {
	if os.Getenv("FOYER_MEASURE") != "1" {
		t.Skip("measurement: set FOYER_MEASURE=1")
	}
}

// TestMeasureBotPlacesFleet: places one machine takes per minute through two replicas (the bot
// alternates between them), default limits (30 joins a minute per address, fleet-wide) and
// each proof_of_work mode at the default difficulty (18 bits, solved natively in Go as a bot
// would, two goroutines), from its one address for a whole minute, and with trusted_proxies
// covering it and a made-up X-Forwarded-For per join (FOYER_MEASURE_SPOOF window, default 15s).
func TestMeasureBotPlacesFleet(t *testing.T) {
	measuring(t)
	one, spoofW := time.Minute, 15*time.Second
	if d, err := time.ParseDuration(os.Getenv("FOYER_MEASURE_SPOOF")); err == nil {
		spoofW = d
	}
	for _, tc := range []struct {
		mode  string
		spoof bool
	}{{"off", false}, {"auto", false}, {"on", false}, {"off", true}, {"auto", true}, {"on", true}} {
		var a, b *harness
		window := one
		if tc.spoof {
			window = spoofW
			a, b = fleetTrusted(t, tc.mode)
		} else {
			a, b = fleet(t, func(r RoomConfig) RoomConfig { r.ProofOfWork.Mode = tc.mode; return r }, 30)
		}
		var seq, got, asked atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; time.Since(start) < window; i += 2 {
					h := a
					if i%2 == 1 {
						h = b
					}
					hdr := map[string]string{}
					if tc.spoof {
						n := seq.Add(1)
						hdr["X-Forwarded-For"] = fmt.Sprintf("198.51.%d.%d", n>>8&255, n&255)
					}
					first, final, _ := powJoinB(h.visitor(), hdr)
					if first == 428 {
						asked.Add(1)
					}
					if final == 200 {
						got.Add(1)
					} else if !tc.spoof {
						time.Sleep(100 * time.Millisecond) // refused: a polite retry loop, not a spin
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		what := "one address"
		if tc.spoof {
			what = "spoofed XFF"
		}
		t.Logf("2 replicas, %-5s %-12s %6d places in %-6s = %8.0f places/min (%d asked to pay)", tc.mode, what, got.Load(),
			el.Round(time.Second), float64(got.Load())/el.Minutes(), asked.Load())
	}
}

// fleetTrusted is fleet with trusted_proxies covering loopback (X-Forwarded-For believed).
func fleetTrusted(t *testing.T, mode string) (a, b *harness) {
	t.Helper()
	old := fleetMod
	fleetMod = func(c *Config) { c.TrustedProxies = []string{"127.0.0.0/8"} }
	defer func() { fleetMod = old }()
	return fleet(t, func(r RoomConfig) RoomConfig { r.ProofOfWork.Mode = mode; return r }, 30)
}

// TestMeasureSharedAddressFleet: 500 people behind one address arrive at once through two
// replicas (default limits, proof_of_work auto). The proof-of-work is solved natively at a
// base of 12 bits so the run fits a test; the extra bits asked are what matters (each is twice
// the work of the base, about 0.96 s on a phone at the default 18 bits, docs/trust.md).
func TestMeasureSharedAddressFleet(t *testing.T) {
	measuring(t)
	const people, base = 500, 12
	a, b := fleet(t, func(r RoomConfig) RoomConfig {
		r.ProofOfWork = PoWConfig{Mode: "auto", Difficulty: base}
		return r
	}, 30)
	type res struct {
		code, extra int
		took        time.Duration
	}
	out := make([]res, people)
	var busy atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := a
			if i%2 == 1 {
				h = b
			}
			t0 := time.Now()
			v := h.visitor()
			first, final, bitsN := powJoinB(v, nil)
			for try := 0; final == 503 && try < 10; try++ { // busy: the page tries again a second later
				busy.Add(1)
				time.Sleep(time.Second)
				first, final, bitsN = powJoinB(v, nil)
			}
			extra := -1 // free
			if first == 428 {
				extra = bitsN - base
			}
			out[i] = res{final, extra, time.Since(t0)}
		}()
	}
	wg.Wait()
	all := time.Since(start)
	refused, free := 0, 0
	dist, codes := map[int]int{}, map[int]int{}
	var phone []float64 // expected phone seconds at the default 18 bits
	for _, r := range out {
		switch {
		case r.code != 200:
			refused++
			codes[r.code]++
		case r.extra < 0:
			free++
			phone = append(phone, 0)
		default:
			dist[r.extra]++
			phone = append(phone, 0.96*math.Pow(2, float64(r.extra)))
		}
	}
	sort.Float64s(phone)
	var ks []int
	for k := range dist {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("+%d bits: %d", k, dist[k]))
	}
	pct := func(p float64) float64 { return phone[min(len(phone)-1, int(p*float64(len(phone))))] }
	t.Logf("500 behind one address, 2 replicas: %d refused, %d free, paid %s; whole crowd placed in %s here (native solving at %d bits)",
		refused, free, strings.Join(parts, ", "), all.Round(time.Millisecond), base)
	t.Logf("expected phone solve time at the default 18 bits: p50 %.2f s, p90 %.2f s, max %.2f s", pct(0.5), pct(0.9), phone[len(phone)-1])
	var took []time.Duration
	for _, r := range out {
		took = append(took, r.took)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("%d answers were 503 busy (the store slow on this loaded host), each retried a second later", busy.Load())
	t.Logf("time to a place here: p50 %s, p90 %s, max %s", took[people/2].Round(time.Millisecond),
		took[people*9/10].Round(time.Millisecond), took[people-1].Round(time.Millisecond))
	if refused != 0 {
		t.Fatalf("%d refused: status %v", refused, codes)
	}
}
