package queue

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func testSigner(t testing.TB) *ticketSigner {
	t.Helper()
	s, err := newTicketSigner([]TicketKey{{ID: 2, Secret: []byte("0123456789abcdef0123456789abcdef")}, {ID: 1, Secret: []byte("an older key, still verifying")}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTicketRoundTrip(t *testing.T) {
	s := testSigner(t)
	for _, tc := range []Ticket{
		{Room: "biff-2026", Visitor: NewVisitorID(), Number: 1, IssuedAt: time.Unix(1790000000, 0), Prequeue: true},
		{Room: "a", Visitor: "some-Visitor_id.42", Number: MaxTicketNumber, IssuedAt: time.Unix(0, 0)},
		{Room: strings.Repeat("z", 64), Visitor: strings.Repeat("v", MaxVisitorLen), Number: 123456789, IssuedAt: time.Unix(1790000000, 0)},
	} {
		enc, err := s.encode(tc)
		if err != nil {
			t.Fatalf("encode %+v: %v", tc, err)
		}
		if len(enc) > MaxTicketLen {
			t.Fatalf("encoded ticket is %d chars, over %d", len(enc), MaxTicketLen)
		}
		got, err := s.decode(tc.Room, enc)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		tc.KeyID = 2
		if got != tc {
			t.Fatalf("round trip: got %+v, want %+v", got, tc)
		}
	}
}

func TestTicketRejects(t *testing.T) {
	s := testSigner(t)
	good, err := s.encode(Ticket{Room: "room-1", Visitor: NewVisitorID(), Number: 42, IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := ticketEnc.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return ticketEnc.EncodeToString(b)
	}
	other, _ := newTicketSigner([]TicketKey{{ID: 2, Secret: []byte("a different secret of 32 bytes!!")}})
	forged, _ := other.encode(Ticket{Room: "room-1", Visitor: "v", Number: 1, IssuedAt: time.Now()})
	unknownKey, _ := newTicketSigner([]TicketKey{{ID: 9, Secret: []byte("0123456789abcdef0123456789abcdef")}})
	unk, _ := unknownKey.encode(Ticket{Room: "room-1", Visitor: "v", Number: 1, IssuedAt: time.Now()})
	for name, tc := range map[string]struct{ room, enc string }{
		"empty":          {"room-1", ""},
		"oversized":      {"room-1", strings.Repeat("A", MaxTicketLen+1)},
		"not base64":     {"room-1", "!!!!"},
		"truncated":      {"room-1", good[:len(good)-4]},
		"short":          {"room-1", "AQID"},
		"other room":     {"room-2", good},
		"tampered num":   {"room-1", flip(3)},
		"tampered mac":   {"room-1", flip(len(raw) - 1)},
		"tampered flags": {"room-1", flip(2)},
		"forged":         {"room-1", forged},
		"unknown key":    {"room-1", unk},
		"bad room":       {"Room 1", good},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.decode(tc.room, tc.enc)
			if !errors.Is(err, ErrBadTicket) && !errors.Is(err, ErrInvalidRoomName) {
				t.Fatalf("got %v, want ErrBadTicket or ErrInvalidRoomName", err)
			}
		})
	}
}

func TestTicketKeyRotation(t *testing.T) {
	old, _ := newTicketSigner([]TicketKey{{ID: 1, Secret: []byte("an older key, still verifying")}})
	enc, err := old.encode(Ticket{Room: "r", Visitor: "v", Number: 7, IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := testSigner(t).decode("r", enc)
	if err != nil || got.Number != 7 || got.KeyID != 1 {
		t.Fatalf("a ticket of the verify-only key: %+v, %v", got, err)
	}
}

func TestTicketSignerConfig(t *testing.T) {
	for name, keys := range map[string][]TicketKey{
		"none":      nil,
		"short":     {{ID: 1, Secret: []byte("short")}},
		"duplicate": {{ID: 1, Secret: make([]byte, 32)}, {ID: 1, Secret: make([]byte, 32)}},
	} {
		if _, err := newTicketSigner(keys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzDecodeTicket(f *testing.F) {
	s := testSigner(f)
	good, _ := s.encode(Ticket{Room: "biff", Visitor: NewVisitorID(), Number: 99, IssuedAt: time.Unix(1790000000, 0)})
	f.Add("biff", good)
	f.Add("biff", "")
	f.Add("biff", "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo")
	f.Fuzz(func(t *testing.T, room, enc string) {
		tk, err := s.decode(room, enc)
		if err != nil {
			if !errors.Is(err, ErrBadTicket) && !errors.Is(err, ErrInvalidRoomName) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if tk.Room != room || tk.Number < 1 || tk.Number > MaxTicketNumber || !ValidVisitorID(tk.Visitor) {
			t.Fatalf("decoded an invalid ticket %+v", tk)
		}
		again, err := s.encode(tk)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if back, err := s.decode(room, again); err != nil || back != tk {
			t.Fatalf("re-decode: %+v %v", back, err)
		}
	})
}

func BenchmarkDecodeTicket(b *testing.B) {
	s := testSigner(b)
	enc, _ := s.encode(Ticket{Room: "biff-2026", Visitor: NewVisitorID(), Number: 123456, IssuedAt: time.Now()})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.decode("biff-2026", enc); err != nil {
			b.Fatal(err)
		}
	}
}
