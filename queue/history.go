package queue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Shared history: the dashboard's charts, kept in Redis so that every replica shows the same.
//
// Each replica records each room once a second (RecordHistory): one script call that adds the
// replica's own counts since its last record (refused joins, proof-of-work) to the room's fleet
// counters, and stores a sample if no replica has stored one for this second of Redis's clock
// yet. So a room has one sample per second whoever wins the slot, and its counters are the
// fleet's, not one replica's. A room whose figures and counters did not change stores nothing
// (an idle room's history does not grow); the first sample of each 10-second bucket is also
// kept in a coarse series for the long windows.
//
// Bounds: HistoryFineCap samples at one a second (15 minutes) and HistoryCoarseCap at one per
// 10 seconds (8 hours of a busy room) per room, each a short text (about 100 to 150 bytes;
// about 0.9 MB per room when both are full); every key expires HistoryTTL after the last
// record. Reading a window is one round trip (two ZRANGEs in a pipeline).

// History bounds.
const (
	// HistoryFineCap is how many one-second samples a room keeps (15 minutes).
	HistoryFineCap = 900
	// HistoryCoarseCap is how many 10-second samples a room keeps (8 hours).
	HistoryCoarseCap = 2880
	// HistoryCoarseStep is the coarse series' spacing, in seconds.
	HistoryCoarseStep = 10
	// HistoryTTL is how long a room's history outlives its last record.
	HistoryTTL = 48 * time.Hour
)

var historyScript = mustScript("history")

func init() { allScripts = append(allScripts, historyScript) }

// HistorySample is one stored sample of a room: when (Redis's clock), the figures the
// recording replica gave, and the fleet counters at that moment.
type HistorySample struct {
	// T is the sample's second (unix, Redis's clock).
	T int64
	// Figures are the recording replica's figures, as it gave them (the caller defines what
	// each position means).
	Figures []int64
	// Counters are the room's fleet counters (every replica's counts summed) when it was stored.
	Counters map[string]int64
}

// RecordHistory adds this replica's counts (name -> increment; names must not contain '=',
// ',' or '|') to the room's fleet counters and, if no sample is stored for this second yet,
// stores figures with the counters. It reports whether it stored the sample, and Redis's time.
// One script call.
func (e *Engine) RecordHistory(ctx context.Context, room string, figures []int64, counts map[string]int64) (bool, int64, error) {
	if !ValidRoomName(room) {
		return false, 0, ErrInvalidRoomName
	}
	var fb strings.Builder
	for i, f := range figures {
		if i > 0 {
			fb.WriteByte(',')
		}
		fb.WriteString(strconv.FormatInt(f, 10))
	}
	args := []any{fb.String(), int64(HistoryTTL / time.Second), HistoryFineCap, HistoryCoarseCap}
	for name, n := range counts {
		if n == 0 {
			continue
		}
		if name == "" || strings.ContainsAny(name, "=,|") {
			return false, 0, errors.New("queue: record history: bad counter name " + strconv.Quote(name))
		}
		args = append(args, name, n)
	}
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := historyScript.Run(cctx, e.rdb, []string{k.obsCounters(), k.obsFine(), k.obsCoarse(), k.obsQuiet()}, args...).Result()
	if err != nil {
		return false, 0, storeErr("record history", err)
	}
	s, err := asSlice(v, 2)
	if err != nil {
		return false, 0, err
	}
	stored, err := asInt(s[0])
	if err != nil {
		return false, 0, err
	}
	now, err := asInt(s[1])
	if err != nil {
		return false, 0, err
	}
	return stored == 1, now, nil
}

// History returns the room's stored samples with from <= T <= to, oldest first, after the
// newest sample before from (if any: the values the window starts with, since an unchanged
// room stores nothing): from the one-second series when coarse is false, else from the
// 10-second one. One round trip.
func (e *Engine) History(ctx context.Context, room string, from, to int64, coarse bool) ([]HistorySample, error) {
	if !ValidRoomName(room) {
		return nil, ErrInvalidRoomName
	}
	k := newRoomKeys(e.cfg.Prefix, room)
	key := k.obsFine()
	if coarse {
		key = k.obsCoarse()
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	pipe := e.rdb.Pipeline()
	before := pipe.ZRangeArgs(cctx, redis.ZRangeArgs{Key: key, ByScore: true, Rev: true, Count: 1,
		Start: "(" + strconv.FormatInt(from, 10), Stop: "-inf"})
	within := pipe.ZRangeArgs(cctx, redis.ZRangeArgs{Key: key, ByScore: true,
		Start: strconv.FormatInt(from, 10), Stop: strconv.FormatInt(to, 10)})
	if _, err := pipe.Exec(cctx); err != nil {
		return nil, storeErr("history", err)
	}
	ms := append(before.Val(), within.Val()...)
	out := make([]HistorySample, 0, len(ms))
	for _, m := range ms {
		s, err := parseHistoryMember(m)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// parseHistoryMember reads "t|f,f,...|name=n,name=n".
func parseHistoryMember(m string) (HistorySample, error) {
	parts := strings.SplitN(m, "|", 3)
	if len(parts) != 3 {
		return HistorySample{}, replyErr{"history sample"}
	}
	var s HistorySample
	var err error
	if s.T, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return HistorySample{}, replyErr{"history sample time"}
	}
	if parts[1] != "" {
		fs := strings.Split(parts[1], ",")
		s.Figures = make([]int64, len(fs))
		for i, f := range fs {
			if s.Figures[i], err = strconv.ParseInt(f, 10, 64); err != nil {
				return HistorySample{}, replyErr{"history sample figure"}
			}
		}
	}
	s.Counters = map[string]int64{}
	if parts[2] != "" {
		for _, kv := range strings.Split(parts[2], ",") {
			name, n, ok := strings.Cut(kv, "=")
			v, err := strconv.ParseInt(n, 10, 64)
			if !ok || err != nil {
				return HistorySample{}, replyErr{"history sample counter"}
			}
			s.Counters[name] = v
		}
	}
	return s, nil
}
