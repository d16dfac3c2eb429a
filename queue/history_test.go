package queue

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Two engines (two replicas) record the same room in the same second: one sample is stored,
// and its counters are both replicas' counts summed.
func TestHistoryOneSamplePerSecondFleetCounters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		a, c := newTestEngine(t, b), newTestEngine(t, b)
		var stored int
		var times []int64
		var room string
		for i := 0; ; i++ {
			room = "hist-" + strconv.Itoa(i) // a fresh room per attempt: no second already taken
			// both in one second of Redis's clock: retry if the second turned between them
			s1, t1, err := a.RecordHistory(ctx, room, []int64{1, 10, 20}, map[string]int64{"refused:rate_limited": 2})
			if err != nil {
				t.Fatal(err)
			}
			s2, t2, err := c.RecordHistory(ctx, room, []int64{1, 11, 21}, map[string]int64{"refused:rate_limited": 3, "pow:issued": 1})
			if err != nil {
				t.Fatal(err)
			}
			if t1 == t2 {
				if s1 == s2 {
					t.Fatalf("stored by a: %v, by c: %v: want exactly one", s1, s2)
				}
				stored, times = 1, []int64{t1}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		// a third record in a later second stores the fleet counters of everything before it
		for {
			ok, t3, err := a.RecordHistory(ctx, room, []int64{1, 12, 22}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				times = append(times, t3)
				stored++
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		hs, err := c.History(ctx, room, 0, times[1]+1, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) < stored || hs[len(hs)-1].T != times[1] {
			t.Fatalf("samples %+v, want the last at %d", hs, times[1])
		}
		last := hs[len(hs)-1]
		if last.Counters["refused:rate_limited"] < 5 || last.Counters["pow:issued"] != 1 {
			t.Errorf("counters %v: want both replicas' counts summed (5 refused, 1 challenge)", last.Counters)
		}
		if len(last.Figures) != 3 || last.Figures[1] != 12 {
			t.Errorf("figures %v, want the recorder's [1 12 22]", last.Figures)
		}
		// the coarse series holds the first sample of each 10 s
		coarse, err := a.History(ctx, room, 0, times[1]+1, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(coarse) == 0 || coarse[0].T != hs[0].T {
			t.Errorf("coarse %+v: want the first sample %d", coarse, hs[0].T)
		}
		for i := 1; i < len(coarse); i++ {
			if coarse[i].T/10 == coarse[i-1].T/10 {
				t.Errorf("coarse samples %d and %d share a 10 s bucket", coarse[i-1].T, coarse[i].T)
			}
		}
	})
}

// The series are bounded: the one-second series keeps HistoryFineCap samples, and every key
// has a TTL.
func TestHistoryBounded(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	k := newRoomKeys(b.prefix, "bounded")
	// fill past the cap directly (samples a second apart, older than now), then record
	pipe := b.rdb.Pipeline()
	base := time.Now().Unix() - 2*HistoryFineCap
	for i := int64(0); i < HistoryFineCap+50; i++ {
		pipe.ZAdd(ctx, k.obsFine(), redisZ(base+i, "1"))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.RecordHistory(ctx, "bounded", []int64{1}, map[string]int64{"pow:solved": 1}); err != nil {
		t.Fatal(err)
	}
	if n := b.rdb.ZCard(ctx, k.obsFine()).Val(); n != HistoryFineCap {
		t.Errorf("one-second series holds %d samples, want the cap %d", n, HistoryFineCap)
	}
	for _, key := range []string{k.obsCounters(), k.obsFine(), k.obsCoarse()} {
		if ttl := b.rdb.TTL(ctx, key).Val(); ttl <= 0 || ttl > HistoryTTL {
			t.Errorf("%s: TTL %v, want (0, %v]", key, ttl, HistoryTTL)
		}
	}
	if _, _, err := e.RecordHistory(ctx, "bounded", nil, map[string]int64{"a=b": 1}); err == nil {
		t.Error("a counter name with '=' was accepted")
	}
}

func TestParseHistoryMember(t *testing.T) {
	s, err := parseHistoryMember("1700000000|1,2,-3|a=1,b=22")
	if err != nil || s.T != 1700000000 || len(s.Figures) != 3 || s.Figures[2] != -3 || s.Counters["b"] != 22 {
		t.Errorf("got %+v, %v", s, err)
	}
	if s, err := parseHistoryMember("1700000000||"); err != nil || len(s.Figures) != 0 || len(s.Counters) != 0 {
		t.Errorf("empty parts: %+v, %v", s, err)
	}
	for _, bad := range []string{"", "x|1|", "1|a|", "1|1|a", "1|1|a=x", "1|1"} {
		if _, err := parseHistoryMember(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func redisZ(score int64, m string) redis.Z {
	return redis.Z{Score: float64(score), Member: strconv.FormatInt(score, 10) + "|" + m + "|"}
}

// An unchanged room stores nothing more; when it changes, the unchanged values are stored once
// more at the last second they were seen, then the new ones: a quiet stretch is drawn flat.
func TestHistoryIdleStoresNothing(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	rec := func(figs ...int64) (bool, int64) {
		t.Helper()
		ok, now, err := e.RecordHistory(ctx, "idle", figs, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ok, now
	}
	_, first := rec(1, 5)
	var lastSeen int64
	for lastSeen < first+2 { // the same figures over at least two more seconds
		time.Sleep(300 * time.Millisecond)
		if ok, now := rec(1, 5); ok {
			t.Fatalf("an unchanged record at %d was stored", now)
		} else {
			lastSeen = now
		}
	}
	time.Sleep(1100 * time.Millisecond)
	ok, changed := rec(1, 6)
	if !ok {
		t.Fatal("a change was not stored")
	}
	hs, err := e.History(ctx, "idle", 0, changed, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 || hs[0].T != first || hs[1].T != lastSeen || hs[1].Figures[1] != 5 || hs[2].T != changed || hs[2].Figures[1] != 6 {
		t.Errorf("samples %+v: want %d and %d with 5, then %d with 6", hs, first, lastSeen, changed)
	}
	// a window after the last change starts with the values it holds
	hs, err = e.History(ctx, "idle", changed+1, changed+100, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].T != changed {
		t.Errorf("window after the change: %+v, want the sample at %d first", hs, changed)
	}
}
