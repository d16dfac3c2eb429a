package queue

import (
	"context"
	"testing"

	"github.com/foyerhq/foyer/queue/redistest"
)

func TestAuditNewestFirstAndBounded(t *testing.T) {
	db := redistest.New(t)
	e, err := New(db.Client, Config{Prefix: db.Prefix, TicketKeys: []TicketKey{{ID: 1, Secret: []byte("0123456789abcdef0123456789abcdef")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		if err := e.AppendAudit(ctx, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.Audit(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0]) != `{"n":3}` || string(got[1]) != `{"n":2}` {
		t.Fatalf("audit = %q, want the two newest, newest first", got)
	}
	if _, err := e.Audit(ctx, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}
