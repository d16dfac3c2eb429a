package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Ticket keys rotate without a restart: the new first key signs (after its delay), the
// previous keeps verifying the tickets in hand while it is listed, and a key removed stops
// verifying.
func TestSetTicketKeysRotates(t *testing.T) {
	b := singleBackend(t)
	e := newTestEngine(t, b)
	room := "rot"
	ensure(t, e, room, Settings{RatePerMinute: 60, MaxActive: 10})
	old := join(t, e, room, 1)[0]
	if old.t.KeyID != 1 {
		t.Fatalf("signed by key %d", old.t.KeyID)
	}
	if changed, err := e.SetTicketKeys(testTicketKeys, 0); changed || err != nil {
		t.Fatalf("same keys: changed=%v err=%v", changed, err)
	}
	rotated := []TicketKey{{ID: 2, Secret: []byte("the second ticket key, 32 bytes!")}, testTicketKeys[0]}
	if changed, err := e.SetTicketKeys(rotated, 400*time.Millisecond); !changed || err != nil {
		t.Fatalf("rotate: changed=%v err=%v", changed, err)
	}
	// Held back: the old key still signs, and a ticket another replica signed with the new
	// key already verifies here.
	if got := join(t, e, room, 1)[0]; got.t.KeyID != 1 {
		t.Fatalf("new key signs before its delay: %d", got.t.KeyID)
	}
	other := newTestEngine(t, b, func(c *Config) { c.TicketKeys = rotated })
	_, elsewhere, err := other.Join(context.Background(), room, NewVisitorID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.DecodeTicket(room, elsewhere); err != nil {
		t.Fatalf("ticket signed by the new key elsewhere refused: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.TicketKeyID() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("new ticket key never signs")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fresh := join(t, e, room, 1)[0]
	if fresh.t.KeyID != 2 {
		t.Fatalf("signed by %d after the delay", fresh.t.KeyID)
	}
	if _, err := e.DecodeTicket(room, old.enc); err != nil {
		t.Fatalf("ticket of the previous key refused while it is listed: %v", err)
	}
	// The previous key removed: its tickets are refused, the new key's still pass.
	if _, err := e.SetTicketKeys(rotated[:1], 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DecodeTicket(room, old.enc); !errors.Is(err, ErrBadTicket) {
		t.Fatalf("ticket of a removed key: %v", err)
	}
	if _, err := e.DecodeTicket(room, fresh.enc); err != nil {
		t.Fatal(err)
	}
	// Bad keys change nothing.
	if _, err := e.SetTicketKeys([]TicketKey{{ID: 3, Secret: []byte("short")}}, 0); err == nil {
		t.Fatal("short secret accepted")
	}
	if e.TicketKeyID() != 2 {
		t.Fatal("a refused key set replaced the keys")
	}
}
