package gateway

import (
	"testing"
	"time"
)

func TestClientLimiter(t *testing.T) {
	l := newClientLimiter(60, 3) // 1/s, burst 3
	now := time.Unix(1_000_000, 0)
	got := 0
	for i := 0; i < 10; i++ {
		if ok, _ := l.allow("a", now); ok {
			got++
		}
	}
	if got != 4 { // the burst plus the current token
		t.Fatalf("burst allowed %d, want 4", got)
	}
	ok, wait := l.allow("a", now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("refusal: ok=%v wait=%s", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("another client was limited")
	}
	if ok, _ := l.allow("a", now.Add(time.Second)); !ok {
		t.Fatal("token not refilled after 1s")
	}
	var nilL *clientLimiter
	if ok, _ := nilL.allow("x", now); !ok {
		t.Fatal("disabled limiter refused")
	}
}
