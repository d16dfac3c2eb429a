package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/queue/redistest"
)

// fleet starts two replicas (one Redis, one prefix, one challenge key, like a deployment) with
// the room rm and limits.joins_per_minute perMinute.
func fleet(t *testing.T, rm func(RoomConfig) RoomConfig, perMinute int) (a, b *harness) {
	t.Helper()
	db := redistest.New(t)
	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	second := redis.NewClient(opt)
	t.Cleanup(func() { _ = second.Close() })
	key := []byte("fleet-pow-key-0123456789abcdef0123")
	o := harnessOpt{rdb: db.Client, prefix: db.Prefix, challengeKey: key,
		rooms: func(be string) []RoomConfig { return []RoomConfig{rm(defaultRoom(be))} },
		mod: func(c *Config) {
			c.Limits.JoinsPerMinute = perMinute
			if fleetMod != nil {
				fleetMod(c)
			}
		}}
	a = newHarness(t, o)
	o.rdb = second
	b = newHarness(t, o)
	return a, b
}

// fleetMod, when set, changes the configuration of the replicas fleet starts.
var fleetMod func(*Config)

// joinOn makes one JSON join of a new visitor through h; it returns the status and the body.
func joinOn(h *harness, hdr map[string]string) (int, errorBody) {
	resp, body := h.visitor().do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, hdr)
	var e errorBody
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode == http.StatusTooManyRequests {
		e.Error.Message = resp.Header.Get("Retry-After")
	}
	return resp.StatusCode, e
}

// TestJoinLimitIsFleetWide: one address joining through two replicas gets the fleet's
// allowance (joins_per_minute), not twice it. Each replica's own limiter (burst 10) would let
// 11 through on each: with an allowance of 6 the old per-replica count allowed 22.
func TestJoinLimitIsFleetWide(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"off", "auto"} {
		t.Run(mode, func(t *testing.T) {
			a, b := fleet(t, func(r RoomConfig) RoomConfig { r.ProofOfWork.Mode = mode; return r }, 6)
			codes := map[int]int{}
			retry := ""
			for i := range 30 {
				h := a
				if i%2 == 1 {
					h = b
				}
				code, e := joinOn(h, nil)
				codes[code]++
				if code == http.StatusTooManyRequests {
					retry = e.Error.Message
				}
			}
			refused := http.StatusTooManyRequests // mode off: refused
			if mode == "auto" {
				refused = http.StatusPreconditionRequired // auto: asked to pay instead
			}
			if codes[200] != 6 || codes[refused] != 24 {
				t.Fatalf("two replicas, one address, allowance 6: %v; want 6 joined fleet-wide and 24 %d", codes, refused)
			}
			if mode == "off" {
				if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 61 {
					t.Fatalf("Retry-After %q", retry)
				}
			}
		})
	}
}

// TestPoWDifficultyFollowsFleetCount (auto): an address that made many paid joins through one
// replica is asked a harder proof-of-work by the other replica at its first join there.
func TestPoWDifficultyFollowsFleetCount(t *testing.T) {
	t.Parallel()
	a, b := fleet(t, func(r RoomConfig) RoomConfig {
		r.ProofOfWork = PoWConfig{Mode: "auto", Difficulty: 8, MaxDifficulty: 14}
		return r
	}, 6)
	for range 120 {
		if _, final, _ := powJoin(t, a.visitor(), nil); final != 200 {
			t.Fatalf("paid join through a: %d", final)
		}
	}
	code, e := joinOn(b, nil)
	if code != http.StatusPreconditionRequired || e.PoW == nil || e.PoW.Difficulty < 9 {
		t.Fatalf("first join through b after 120 through a: %d %+v; want a challenge above the base 8 bits", code, e.PoW)
	}
	t.Logf("b asks %d bits after 120 joins of the address through a", e.PoW.Difficulty)
}

// TestPoWReplayAcrossReplicasRefused: a solution spent on one replica does not join again on
// another (the spent nonces are shared in Redis, inside the join call).
func TestPoWReplayAcrossReplicasRefused(t *testing.T) {
	t.Parallel()
	a, b := fleet(t, func(r RoomConfig) RoomConfig { r.ProofOfWork = PoWConfig{Mode: "on", Difficulty: 8}; return r }, 0)
	v := a.visitor()
	resp, body := v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, nil)
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 428 || e.PoW == nil {
		t.Fatalf("join without a solution: %d %s", resp.StatusCode, body)
	}
	hdr := map[string]string{powHeader: solvePoW(e.PoW.Challenge, e.PoW.Difficulty)}
	if r, _ := v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, hdr); r.StatusCode != 200 {
		t.Fatalf("the solution on a: %d", r.StatusCode)
	}
	replay := b.visitor() // the same visitor secret, no ticket, the same solution, another replica
	replay.setCookie(admission.VisitorCookieName, v.cookie(admission.VisitorCookieName))
	r, body := replay.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, hdr)
	if r.StatusCode != http.StatusPreconditionRequired {
		t.Fatalf("replayed solution on b: %d %s; want 428 (spent fleet-wide)", r.StatusCode, body)
	}
}

// TestPoWSettingIsLive: proof_of_work and pow_difficulty are stored room settings: a PATCH
// through one replica is in force on the other within a second (its joins ask for the new
// difficulty), `off` turns it off again, and bad values are a 400 naming the field.
func TestPoWSettingIsLive(t *testing.T) {
	t.Parallel()
	a, b := fleet(t, func(r RoomConfig) RoomConfig { return r }, 0)
	if st := b.gw.settings(b.gw.roomSet().rooms[testRoom]); st.PoWMode != "auto" || st.PoWDifficulty != 18 {
		t.Fatalf("defaults: %s %d, want auto 18", st.PoWMode, st.PoWDifficulty)
	}
	if code, _ := joinOn(b, nil); code != 200 {
		t.Fatalf("auto, no pressure: %d", code)
	}
	sent := time.Now()
	if r := a.call(patchCall(`{"proof_of_work": "on", "pow_difficulty": 9}`)); r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	rm := b.gw.roomSet().rooms[testRoom]
	d := inForce(t, "proof_of_work on", sent, func() bool {
		st := b.gw.settings(rm)
		return st.PoWMode == "on" && st.PoWDifficulty == 9
	})
	t.Logf("in force on the other replica after %s", d)
	code, e := joinOn(b, nil)
	if code != http.StatusPreconditionRequired || e.PoW == nil || e.PoW.Difficulty != 9 {
		t.Fatalf("join on b after the patch: %d %+v", code, e.PoW)
	}
	g := b.call(adminCall{method: http.MethodGet, path: festivalPath}).room(t)
	if g.Settings.ProofOfWork != "on" || g.Settings.PoWDifficulty != 9 {
		t.Fatalf("b's GET: %+v", g.Settings)
	}
	r := a.call(patchCall(`{"proof_of_work": "maybe", "pow_difficulty": 40}`))
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad patch: %d %s", r.status, r.body)
	}
	f := r.errBody(t).Fields
	for _, k := range []string{"proof_of_work", "pow_difficulty"} {
		if f[k] == "" {
			t.Errorf("400 does not name %s: %v", k, f)
		}
	}
	sent = time.Now()
	if r := a.call(patchCall(`{"proof_of_work": "off"}`)); r.status != http.StatusOK {
		t.Fatalf("patch off: %d %s", r.status, r.body)
	}
	inForce(t, "proof_of_work off", sent, func() bool { return b.gw.settings(rm).PoWMode == "off" })
	if code, _ := joinOn(b, nil); code != 200 {
		t.Fatalf("join after off: %d", code)
	}
}

// FuzzVisitorSecret: the gateway takes a visitor secret (header or cookie) only when it is a
// valid secret, exactly as sent; its id is 32 hex digits that differ from the secret; a bind=
// commitment is accepted only in the exact form Commitment makes, and then decodes to 32 bytes.
func FuzzVisitorSecret(f *testing.F) {
	for _, s := range []string{"", newVisitorID(), newVisitorID() + newVisitorID(), "a b", "x;y=z", admission.Commitment(newVisitorID())} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set(admission.VisitorSecretHeader, s)
		got := visitorSecret(r)
		if got != "" && (got != s || !admission.ValidVisitorSecret(s)) {
			t.Fatalf("header %q taken as secret %q", s, got)
		}
		c, _ := http.NewRequest(http.MethodGet, "/", nil)
		c.Header.Set("Cookie", admission.VisitorCookieName+"="+s) // raw: net/http parses it as a browser's
		if got := visitorSecret(c); got != "" && (!admission.ValidVisitorSecret(got) || !strings.Contains(s, got)) {
			t.Fatalf("cookie %q taken as secret %q", s, got)
		}
		if got != "" {
			id := visitorID(got)
			if len(id) != 32 || id == got || strings.Trim(id, "0123456789abcdef") != "" {
				t.Fatalf("visitorID(%q) = %q", got, id)
			}
		}
		if admission.ValidCommitment(s) {
			b, err := base64.RawURLEncoding.Strict().DecodeString(s)
			if err != nil || len(b) != 32 {
				t.Fatalf("commitment %q accepted: %d bytes, %v", s, len(b), err)
			}
		}
	})
}

// BenchmarkJoinPoW is join throughput with proof-of-work on, against off: each op is one
// place taken, i.e. with "on" the join that carries a solved challenge (verify, the per-address
// count and the fleet-wide spend inside the coalesced join call, the ticket), from 64
// concurrent clients behind one address with the default limits (30 joins a minute: with "off"
// the limit is lifted, else it would refuse). The solving is done before the timer: it is the
// client's cost (BenchmarkPoWSolve18).
func BenchmarkJoinPoW(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			bg := newBenchGateway(b, 1)
			bitsN := 8
			if mode == "on" {
				bg.gw.cfg.Limits.JoinsPerMinute = 30
			}
			audit := func(before, after queue.Settings) []byte { return []byte("bench") }
			if _, _, err := bg.gw.engine.UpdateSettings(context.Background(), testRoom,
				queue.SettingsPatch{PoWMode: &mode, PoWDifficulty: &bitsN}, 0, audit); err != nil {
				b.Fatal(err)
			}
			reqs := make([]*http.Request, b.N)
			now := time.Now()
			for i := range reqs {
				secret := newVisitorID()
				req := httptest.NewRequest(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", nil)
				req.Header.Set("Accept", "application/json")
				req.Header.Set(admission.VisitorSecretHeader, secret)
				if mode == "on" {
					ch := bg.gw.pow.issue(testRoom, visitorID(secret), bitsN, now)
					req.Header.Set(powHeader, solvePoW(ch.Challenge, bitsN))
				}
				reqs[i] = req
			}
			h := bg.gw.Handler()
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &sink{h: http.Header{}}
				for pb.Next() {
					w.reset()
					h.ServeHTTP(w, reqs[next.Add(1)-1])
					if w.code != http.StatusOK {
						b.Errorf("status %d", w.code)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
		})
	}
}
