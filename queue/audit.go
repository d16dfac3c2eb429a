package queue

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// AuditMax bounds the audit log: the newest AuditMax entries are kept.
const AuditMax = 10_000

// auditKey is the organisers' audit log: a list, newest first, trimmed to AuditMax entries.
// It is global to the prefix (not per room), so it has no room hash tag; it is written by one
// plain command at a time, never by a script, so that is safe in a cluster. No TTL: it is the
// record of who changed what, bounded by length instead.
func auditKey(prefix string) string { return prefix + ":audit" }

// AppendAudit records one audit entry (opaque bytes, JSON by convention), newest first.
func (e *Engine) AppendAudit(ctx context.Context, entry []byte) error {
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	k := auditKey(e.cfg.Prefix)
	_, err := e.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, k, entry)
		p.LTrim(ctx, k, 0, AuditMax-1)
		return nil
	})
	if err != nil {
		return storeErr("audit append", err)
	}
	return nil
}

// Audit returns up to limit audit entries, newest first.
func (e *Engine) Audit(ctx context.Context, limit int) ([][]byte, error) {
	if limit < 1 || limit > AuditMax {
		return nil, errors.New("queue: audit limit out of range")
	}
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	vals, err := e.rdb.LRange(ctx, auditKey(e.cfg.Prefix), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, storeErr("audit read", err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}
