package queue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// AuditMax bounds the audit log: the newest AuditMax entries are kept.
const AuditMax = 10_000

// Each room's audit log is a list under the room's hash tag (KEYS audit in doc.go), written
// by update.lua in the same atomic call as the change it records, newest first, each entry
// prefixed with Redis's time in µs and a space, trimmed to AuditMax entries. No TTL beyond the
// room's: it is the record of who changed what, bounded by length.

// Audit returns up to limit audit entries of the given rooms, newest first (merged by the
// time Redis recorded them).
func (e *Engine) Audit(ctx context.Context, rooms []string, limit int) ([][]byte, error) {
	if limit < 1 || limit > AuditMax {
		return nil, errors.New("queue: audit limit out of range")
	}
	type stamped struct {
		at    int64
		entry []byte
	}
	var all []stamped
	for _, room := range rooms {
		if !ValidRoomName(room) {
			return nil, fmt.Errorf("queue: audit: room %q: %w", room, ErrInvalidRoomName)
		}
		cctx, cancel := e.callCtx(ctx)
		vals, err := e.rdb.LRange(cctx, newRoomKeys(e.cfg.Prefix, room).audit, 0, int64(limit-1)).Result()
		cancel()
		if err != nil {
			return nil, storeErr("queue: audit read "+room, err)
		}
		for _, v := range vals {
			ms, entry, ok := strings.Cut(v, " ")
			at, err := strconv.ParseInt(ms, 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("queue: audit %s: %w", room, replyErr{"audit entry"})
			}
			all = append(all, stamped{at, []byte(entry)})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at > all[j].at })
	out := make([][]byte, 0, min(limit, len(all)))
	for _, s := range all[:min(limit, len(all))] {
		out = append(out, s.entry)
	}
	return out, nil
}
