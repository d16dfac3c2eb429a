package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// RemainingUnknown is Settings.Remaining when no stock was reported for a room.
const RemainingUnknown = -1

// ErrSoldOut means the room is sold out (the stock reported is 0): nobody is admitted.
var ErrSoldOut = errors.New("queue: sold out")

var soldOutScript = mustScript("soldout")

func init() { allScripts = append(allScripts, soldOutScript) }

// stockOf reads the meta hash's stock field: RemainingUnknown when absent or malformed.
func stockOf(m map[string]string) int64 {
	v, ok := m["stock"]
	if !ok {
		return RemainingUnknown
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < RemainingUnknown {
		return RemainingUnknown
	}
	return n
}

// ReportStock records the stock left for a room as the backend reports it (remaining >= 0, or
// RemainingUnknown to forget it). 0 makes the room sold out on every replica: the change is
// announced, so each replica steps with it at once (within a second), no step admits anyone and
// every claim is refused with ErrSoldOut; waiting visitors see StateSoldOut. It is one atomic
// call that neither bumps the settings version nor writes the audit log (a busy sale reports
// with every booking); an organiser's change goes through UpdateSettings (SettingsPatch.Remaining),
// versioned and audited. It reports whether the stored stock changed.
func (e *Engine) ReportStock(ctx context.Context, room string, remaining int64) (bool, error) {
	if !ValidRoomName(room) {
		return false, fmt.Errorf("queue: report stock: room %q: %w", room, ErrInvalidRoomName)
	}
	if remaining < RemainingUnknown || remaining > MaxRemaining {
		return false, &ValidationError{Fields: map[string]string{"remaining": fmt.Sprintf("must be between 0 and %d", MaxRemaining)}}
	}
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := soldOutScript.Run(cctx, e.rdb, []string{k.meta, k.stats}, remaining, settingsChannel(e.cfg.Prefix), room).Result()
	if err != nil {
		return false, storeErr("queue: report stock "+room, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return false, fmt.Errorf("queue: report stock %s: %w", room, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return false, fmt.Errorf("queue: report stock %s: %w", room, err)
	}
	switch tag {
	case "OK":
		if len(a) != 2 {
			return false, fmt.Errorf("queue: report stock %s: %w", room, replyErr{"soldout: length"})
		}
		n, err := asInt(a[1])
		if err != nil {
			return false, fmt.Errorf("queue: report stock %s: %w", room, err)
		}
		if n == 1 {
			if r := e.cached(room); r != nil {
				select { // step here at once too (the announcement does it on the other replicas)
				case e.wake <- room:
				default:
				}
			}
		}
		return n == 1, nil
	case "NOROOM":
		return false, fmt.Errorf("queue: report stock %s: %w", room, ErrUnknownRoom)
	}
	return false, fmt.Errorf("queue: report stock %s: %w", room, replyErr{"soldout: " + tag})
}

// stockLow fills a waiting visitor's Remaining when fewer are left than the visitor's place
// (everyone ahead plus them): they are told plainly how many are ahead against what is left.
func stockLow(s *snapshot, st *Status) {
	if r := s.settings.Remaining; r >= 0 && st.Place > 0 && r < st.Place {
		st.StockLow, st.Remaining = true, r
	}
}
