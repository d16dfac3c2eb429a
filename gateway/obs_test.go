package gateway

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/queue/redistest"
)

// openRoom refuses joins past the per-address limit (proof-of-work off: 429s); testRoom asks
// every join for a proof-of-work.
const openRoom = "open-sale"

func obsRooms(backend string) []RoomConfig {
	fest := defaultRoom(backend)
	fest.ProofOfWork = PoWConfig{Mode: "on", Difficulty: 8, MaxDifficulty: 8}
	return []RoomConfig{fest, {Name: openRoom, Paths: []string{"/open/"}, Backend: backend,
		RatePerMinute: 600, MaxActive: 100, QueueAll: true, ProofOfWork: PoWConfig{Mode: "off"}}}
}

// historyOf reads a room's history from h.
func historyOf(t *testing.T, h *harness, room, query string) historyBody {
	t.Helper()
	code, b := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/"+room+"/history"+query, "", nil)
	if code != http.StatusOK {
		t.Fatalf("history %s%s: %d %s", room, query, code, b)
	}
	var out historyBody
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHistorySharedAcrossReplicas: two gateways on one Redis prefix answer the same history
// (the same samples, whichever replica recorded each second), and its counters are the
// fleet's: joins refused on either replica (429s) and proof-of-work solved on either appear.
func TestHistorySharedAcrossReplicas(t *testing.T) {
	db := redistest.New(t)
	opt := harnessOpt{rdb: db.Client, prefix: db.Prefix, rooms: obsRooms,
		mod: func(c *Config) { c.Limits.JoinsPerMinute = 1 }}
	a, b := newHarness(t, opt), newHarness(t, opt)

	refused := 0
	for _, h := range []*harness{a, b, a} {
		for i := 0; i < 14; i++ { // burst 10 per replica: the rest get 429
			resp, _ := h.visitor().do(http.MethodPost, "/foyer/v1/rooms/"+openRoom+"/join", "application/json", nil, nil)
			switch resp.StatusCode {
			case http.StatusOK:
			case http.StatusTooManyRequests:
				refused++
			default:
				t.Fatalf("join: %d", resp.StatusCode)
			}
		}
	}
	if refused < 10 {
		t.Fatalf("%d joins refused, want the ones past each replica's burst", refused)
	}
	solved := 0
	for _, h := range []*harness{a, b, b} {
		first, final, bits := powJoin(t, h.visitor(), nil)
		if first != http.StatusPreconditionRequired || final != http.StatusOK || bits != 8 {
			t.Fatalf("pow join: %d then %d at %d bits", first, final, bits)
		}
		solved++
	}

	// every refusal, from both replicas, reaches the shared counters
	deadline := time.Now().Add(3 * obsIdleEvery)
	for {
		ha := historyOf(t, a, openRoom, "")
		if n := len(ha.Samples); n > 0 && ha.Samples[n-1].RefusedTotal == int64(refused) {
			last := ha.Samples[n-1]
			if ha.Source != "shared" {
				t.Errorf("source %q, want shared", ha.Source)
			}
			var peak float64
			for _, s := range ha.Samples {
				peak = max(peak, s.Refused["rate_limited"])
			}
			if peak <= 0 {
				t.Errorf("no refused joins per minute by reason rate_limited in %+v", ha.Samples)
			}
			if last.Joined != int64(3*14-refused) {
				t.Errorf("joined %d, want %d (both replicas)", last.Joined, 3*14-refused)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refused_total never reached %d: %+v", refused, ha.Samples)
		}
		time.Sleep(200 * time.Millisecond)
	}
	deadline = time.Now().Add(3 * obsIdleEvery)
	for {
		hb := historyOf(t, b, testRoom, "")
		var issued, done float64
		var bits int64
		for _, s := range hb.Samples {
			issued, done, bits = max(issued, s.PoWIssuedPerMinute), max(done, s.PoWSolvedPerMinute), max(bits, s.PoWDifficulty)
		}
		if issued > 0 && done > 0 && bits == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proof-of-work not in the history (issued %v, solved %v, difficulty %d): %+v", issued, done, bits, hb.Samples)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// both replicas answer the same samples: compare what both windows hold
	var sa, sb []historyPoint
	for try := 0; ; try++ {
		ha, hb := historyOf(t, a, openRoom, "?window=10m"), historyOf(t, b, openRoom, "?window=10m")
		sa, sb = common(ha.Samples, hb.Samples)
		if len(sa) >= 2 && reflect.DeepEqual(sa, sb) {
			break
		}
		if try == 20 {
			t.Fatalf("the replicas' histories differ:\n%+v\n%+v", sa, sb)
		}
		time.Sleep(300 * time.Millisecond)
	}
	seen := map[int64]bool{}
	for _, s := range sa {
		if seen[s.T] {
			t.Errorf("two samples for second %d", s.T)
		}
		seen[s.T] = true
	}
}

// common returns the samples of a and b whose times both windows cover.
func common(a, b []historyPoint) ([]historyPoint, []historyPoint) {
	if len(a) == 0 || len(b) == 0 {
		return nil, nil
	}
	lo, hi := max(a[0].T, b[0].T), min(a[len(a)-1].T, b[len(b)-1].T)
	cut := func(s []historyPoint) []historyPoint {
		var out []historyPoint
		for _, p := range s {
			if p.T >= lo && p.T <= hi {
				out = append(out, p)
			}
		}
		return out
	}
	return cut(a), cut(b)
}

// TestHistoryWindows: each window reads its series at its step, with the opening in view; a
// bad window is refused naming the field.
func TestHistoryWindows(t *testing.T) {
	now := int64(1_800_000_000)
	for _, tc := range []struct {
		window  string
		opens   time.Time
		from    int64
		step    int64
		coarse  bool
		maxPnts int64
	}{
		{"10m", time.Time{}, now - 600, 1, false, 600},
		{"1h", time.Time{}, now - 3600, 10, true, 360},
		{"sale", time.Unix(now-180, 0), now - 780, 2, false, 450},             // opened 3 min ago: fine series, from 10 min before it
		{"sale", time.Unix(now-3*3600, 0), now - 3*3600 - 600, 20, true, 570}, // 3 h: coarse, thinned to 20 s
		{"sale", time.Unix(now-30*3600, 0), now - 8*3600, 40, true, 720},      // older than the coarse series: its 8 hours
		{"sale", time.Unix(now+3600, 0), now - 600, 1, false, 600},            // not open yet: the last 10 minutes
	} {
		p := planHistory(tc.window, now, tc.opens)
		if p.from != tc.from || p.step != tc.step || p.coarse != tc.coarse {
			t.Errorf("%s opening %v: %+v, want from %d step %d coarse %v", tc.window, tc.opens, p, tc.from, tc.step, tc.coarse)
		}
		if pts := (now - p.from) / p.step; pts > historyMaxPoints || pts > tc.maxPnts {
			t.Errorf("%s: %d points", tc.window, pts)
		}
	}

	opens := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	h := newHarness(t, harnessOpt{rooms: func(backend string) []RoomConfig {
		rc := defaultRoom(backend)
		rc.OpensAt = opens
		return []RoomConfig{rc}
	}})
	for _, w := range []string{"10m", "1h", "sale"} {
		out := historyOf(t, h, testRoom, "?window="+w)
		if out.Window != w || out.Source != "shared" {
			t.Errorf("%s: window %q source %q", w, out.Window, out.Source)
		}
		if at, err := time.Parse(time.RFC3339, out.OpensAt); err != nil || !at.Equal(opens) {
			t.Errorf("%s: opens_at %q, want %v", w, out.OpensAt, opens)
		}
		if w == "sale" && out.From > opens.Unix()-600 {
			t.Errorf("sale window from %d: the opening (%d) is not in view with ten minutes before it", out.From, opens.Unix())
		}
		for i := 1; i < len(out.Samples); i++ {
			if out.Samples[i].T/out.Step == out.Samples[i-1].T/out.Step {
				t.Errorf("%s: samples %d and %d in one %d s step", w, out.Samples[i-1].T, out.Samples[i].T, out.Step)
			}
		}
	}
	code, b := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/"+testRoom+"/history?window=week", "", nil)
	var e errorBody
	_ = json.Unmarshal(b, &e)
	if code != http.StatusBadRequest || e.Error.Fields["window"] == "" {
		t.Errorf("window=week: %d %s", code, b)
	}
}

// historyPoints derives fleet rates from the stored counters over the minute before each
// sample, and keeps the first sample of each step.
func TestHistoryPoints(t *testing.T) {
	fig := func(joined, admitted int64) []int64 {
		f := make([]int64, figCount)
		f[figVersion], f[figJoined], f[figAdmitted], f[figWaiting] = 1, joined, admitted, 7
		return f
	}
	var stored []queue.HistorySample
	for i := int64(0); i <= 120; i++ {
		stored = append(stored, queue.HistorySample{T: 1000 + i, Figures: fig(10*i, 2*i),
			Counters: map[string]int64{"refused:rate_limited": i, "refused:busy": i / 2, "pow:issued": 3 * i}})
	}
	pts := historyPoints(stored, 1060, 1)
	if len(pts) != 61 || pts[0].T != 1060 {
		t.Fatalf("%d points from %d", len(pts), pts[0].T)
	}
	p := pts[len(pts)-1] // t=1120: the minute since t=1060
	if p.JoinsPerMinute != 600 || p.AdmittedPerMinute != 120 || p.Refused["rate_limited"] != 60 || p.Refused["busy"] != 30 ||
		p.RefusedPerMinute != 90 || p.PoWIssuedPerMinute != 180 || p.RefusedTotal != 120+60 || p.Waiting != 7 {
		t.Errorf("%+v", p)
	}
	thin := historyPoints(stored, 1000, 20)
	if len(thin) != 7 || thin[1].T != 1020 { // 1000, 1020, ..., 1120
		t.Errorf("thinned: %d points, second at %d", len(thin), thin[1].T)
	}
	// counters that went back (restored after a data loss) give 0, not a negative rate
	back := []queue.HistorySample{{T: 1, Figures: fig(100, 100)}, {T: 61, Figures: fig(5, 5)}}
	if p := historyPoints(back, 61, 1); p[0].JoinsPerMinute != 0 || p[0].AdmittedPerMinute != 0 {
		t.Errorf("after a loss: %+v", p[0])
	}
}

// TestHistoryRecordCost measures what the shared history costs a replica: about one script
// call a second for a busy room, one per obsIdleEvery for an idle one
// (foyer_history_records_total).
func TestHistoryRecordCost(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: obsRooms})
	count := func(room string) float64 {
		var m dto.Metric
		if err := h.gw.obs.records.WithLabelValues(room).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	// the open room gets a visitor every 200 ms (it changes every second); the festival is idle
	time.Sleep(2 * time.Second) // both rooms loaded and recorded once
	busy0, idle0, start := count(openRoom), count(testRoom), time.Now()
	for time.Since(start) < 12*time.Second {
		h.visitor().join(openRoom)
		time.Sleep(200 * time.Millisecond)
	}
	secs := time.Since(start).Seconds()
	busy, idle := (count(openRoom)-busy0)/secs, (count(testRoom)-idle0)/secs
	t.Logf("history script calls per second on this replica: busy room %.2f, idle room %.2f", busy, idle)
	if busy < 0.5 || busy > 1.1 {
		t.Errorf("busy room: %.2f calls a second, want about one", busy)
	}
	if idle > 2/obsIdleEvery.Seconds() {
		t.Errorf("idle room: %.2f calls a second, want at most one per %v", idle, obsIdleEvery)
	}
}

// TestHistoryWhileRedisDown: while Redis is unreachable the history endpoint says so and
// answers this replica's own samples; the joins refused meanwhile (503 reconnecting) are kept
// and reach the shared counters once Redis is back.
func TestHistoryWhileRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: starts and stops a redis-server")
	}
	srv := redistest.StartServer(t)
	opt, _ := redis.ParseURL(srv.URL())
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	opt.MaxRetries = 0
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	h := newHarness(t, harnessOpt{rdb: rdb, prefix: redistest.Prefix(t)})
	h.visitor().join(testRoom)
	time.Sleep(1500 * time.Millisecond) // recorded once at least

	srv.Stop()
	refused := 0
	deadline := time.Now().Add(10 * time.Second)
	for refused < 3 {
		resp, _ := h.visitor().do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, nil)
		if resp.StatusCode == http.StatusServiceUnavailable {
			refused++
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d joins refused while Redis is down", refused)
		}
		time.Sleep(100 * time.Millisecond)
	}
	down := historyOf(t, h, testRoom, "")
	if down.Source != "replica" || len(down.Samples) == 0 {
		t.Errorf("while Redis is down: source %q, %d samples; want this replica's own", down.Source, len(down.Samples))
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(3 * obsIdleEvery)
	for {
		up := historyOf(t, h, testRoom, "")
		var got int64
		for _, s := range up.Samples {
			got = max(got, s.RefusedTotal)
		}
		if up.Source == "shared" && got >= int64(refused) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Redis came back: source %q, refused_total %d, want at least the %d refused while it was down", up.Source, got, refused)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
