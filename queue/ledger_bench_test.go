package queue

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkLedgerPerAdmission measures what the outcome ledger adds to one admission: the
// record written at the claim (ledger_admit.lua) and the outcome at the release
// (ledger_end.lua), each one script call, against a real Redis; and the memory of a record.
func BenchmarkLedgerPerAdmission(b *testing.B) {
	be := singleBackend(b)
	ctx := context.Background()
	e := newTestEngine(b, be)
	ensure(b, e, "bl", Settings{RatePerMinute: 6000, MaxActive: 10})
	r := e.cached("bl")
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		jti := fmt.Sprintf("%s.bench%09d", "1", i)
		e.ledgerAdmit(ctx, r, Lease{JTI: jti, Visitor: "v-0123456789abcdef0123", Room: "bl", Position: int64(i + 1),
			IssuedAt: now, ExpiresAt: now.Add(10 * time.Minute), MaxUntil: now.Add(30 * time.Minute)}, now)
		e.ledgerEnd(ctx, "bl", jti, OutcomeBooked)
	}
	b.StopTimer()
	if n := be.rdb.HLen(ctx, r.keys.ledger()).Val(); n > 0 {
		mem := be.rdb.MemoryUsage(ctx, r.keys.ledger(), 0).Val() + be.rdb.MemoryUsage(ctx, r.keys.ledgerIndex(), 0).Val()
		b.ReportMetric(float64(mem)/float64(n), "bytes/record")
	}
}
