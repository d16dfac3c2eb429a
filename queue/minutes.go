package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The minute series: once a minute (Redis's clock) a room's cumulative counters go into a
// bounded sorted set in Redis, written by whichever replica records that minute first
// (minute.lua), so every replica charts the same outcomes per minute and forecasts the same
// line (forecast.go). Cost: one Flagged read and one script call per room per minute per
// replica; about 60 bytes a minute, MinuteSeriesLen minutes kept.

var minuteScript = mustScript("minute")

func init() { allScripts = append(allScripts, minuteScript) }

// MinuteSeriesLen bounds the minute series: two days.
const MinuteSeriesLen = 2 * 24 * 60

// MinuteSample is a room's cumulative counters at the first record in one minute.
type MinuteSample struct {
	// T is the minute's start (Redis's clock).
	T time.Time
	// Issued is the room's ticket counter: every join so far; Opened whether the room had
	// opened, and Prequeue its pre-queue size once it had.
	Issued   int64
	Opened   bool
	Prequeue int64
	// Booked, Failed, Abandoned and Expired count the sessions ended so far by outcome;
	// Admitted the admissions.
	Booked, Failed, Abandoned, Expired, Admitted int64
	// Flagged is the refund list's open entries at the record (charged, not booked).
	Flagged int64
}

// minutes is the room's minute series (sorted set, score unix minute).
func (k roomKeys) minutes() string { return k.base + "minutes" }

// RecordMinute records the room's counters for the current minute unless this engine already
// found it recorded; cheap to call every second (a Redis call at most once a minute, plus a few
// around the minute's turn when clocks differ). flagged is the refund list's size now, or -1 to
// read it here (one Flagged call).
func (e *Engine) RecordMinute(ctx context.Context, room string, flagged int64) error {
	r := e.cached(room)
	if r == nil {
		return nil // not served here
	}
	if now := r.redisNow().Unix() / 60; now <= r.minute.Load() {
		return nil
	}
	if flagged < 0 {
		fl, err := e.Flagged(ctx, room, maxLedgerRead)
		if err != nil {
			return err
		}
		flagged = int64(len(fl))
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := minuteScript.Run(cctx, e.rdb, []string{r.keys.meta, r.keys.stats, r.keys.minutes()},
		flagged, MinuteSeriesLen, int64(e.cfg.RoomTTL/time.Second)).Result()
	if err != nil {
		return storeErr("queue: minute "+room, err)
	}
	a, err := asSlice(v, 2)
	if err != nil {
		return fmt.Errorf("queue: minute %s: %w", room, err)
	}
	m, err := asInt(a[1])
	if err != nil {
		return fmt.Errorf("queue: minute %s: %w", room, err)
	}
	r.minute.Store(m)
	return nil
}

// Minutes returns the room's minute series from since on (zero: all kept), oldest first. One
// call.
func (e *Engine) Minutes(ctx context.Context, room string, since time.Time) ([]MinuteSample, error) {
	if !ValidRoomName(room) {
		return nil, fmt.Errorf("queue: minutes: room %q: %w", room, ErrInvalidRoomName)
	}
	k := newRoomKeys(e.cfg.Prefix, room)
	lo := "-inf"
	if !since.IsZero() {
		lo = strconv.FormatInt(since.Unix()/60, 10)
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	ms, err := e.rdb.ZRangeByScore(cctx, k.minutes(), &redis.ZRangeBy{Min: lo, Max: "+inf"}).Result()
	if err != nil {
		return nil, storeErr("queue: minutes "+room, err)
	}
	out := make([]MinuteSample, 0, len(ms))
	for _, m := range ms {
		s, err := parseMinute(m)
		if err != nil {
			return nil, fmt.Errorf("queue: minutes %s: %w", room, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// parseMinute decodes one member of the series: "minute|issued|opened|pq|booked|failed|
// abandoned|expired|admitted|flagged".
func parseMinute(m string) (MinuteSample, error) {
	f := strings.Split(m, "|")
	if len(f) != 10 {
		return MinuteSample{}, fmt.Errorf("minute sample %q: %d fields, want 10", m, len(f))
	}
	n := make([]int64, len(f))
	for i, x := range f {
		v, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return MinuteSample{}, fmt.Errorf("minute sample %q: %w", m, err)
		}
		n[i] = v
	}
	return MinuteSample{T: time.Unix(n[0]*60, 0), Issued: n[1], Opened: n[2] == 1, Prequeue: n[3],
		Booked: n[4], Failed: n[5], Abandoned: n[6], Expired: n[7], Admitted: n[8], Flagged: n[9]}, nil
}
