package queue

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
	"time"
)

// Ticket is a visitor's signed place in a room's line. The visitor carries it (cookie or
// Foyer-Ticket header); nothing per ticket is stored in Redis.
type Ticket struct {
	Room    string
	Visitor string
	// Number is the ticket number, 1-based, from the room's counter.
	Number int64
	// IssuedAt is the issue time, to the second.
	IssuedAt time.Time
	// Prequeue is set on tickets issued before the room opened; their place comes from the
	// pre-queue shuffle.
	Prequeue bool
	// KeyID names the ticket key that signed it.
	KeyID byte
}

// TicketKey is an HMAC-SHA256 key for tickets. The first key of Config.TicketKeys signs; all
// verify, so keys rotate without invalidating tickets in hand.
type TicketKey struct {
	ID     byte
	Secret []byte
}

const (
	ticketVersion = 1
	// MaxTicketLen bounds an encoded ticket; longer input is rejected before decoding.
	MaxTicketLen = 128
	// MaxTicketNumber bounds ticket numbers (2^40, far beyond any sale).
	MaxTicketNumber = 1 << 40
	// MaxVisitorLen bounds a visitor id.
	MaxVisitorLen = 64
	macLen        = 16

	flagPrequeue   = 1 << 0
	flagHexVisitor = 1 << 1 // visitor is 32 lower-case hex digits, stored as 16 bytes
	flagsKnown     = flagPrequeue | flagHexVisitor
)

var ticketEnc = base64.RawURLEncoding

// NewVisitorID returns a new random 128-bit visitor id as 32 lower-case hex digits, the form
// tickets encode most compactly.
func NewVisitorID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidVisitorID reports whether s can be carried in a ticket: 1 to 64 printable ASCII bytes.
func ValidVisitorID(s string) bool {
	if len(s) == 0 || len(s) > MaxVisitorLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ticketSigner signs and verifies tickets. Safe for concurrent use.
type ticketSigner struct {
	sign    byte
	pools   [256]*sync.Pool // per key id; nil = unknown key
	secrets [256][]byte     // per key id, to tell a changed secret from the same one
}

// secretOf is the secret of key id, "" when there is none.
func (s *ticketSigner) secretOf(id byte) string { return string(s.secrets[id]) }

func newTicketSigner(keys []TicketKey) (*ticketSigner, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("queue: config: at least one ticket key is needed")
	}
	s := &ticketSigner{sign: keys[0].ID}
	for i, k := range keys {
		if len(k.Secret) < 16 {
			return nil, fmt.Errorf("queue: config: ticket key %d (id %d) is shorter than 16 bytes", i, k.ID)
		}
		if s.pools[k.ID] != nil {
			return nil, fmt.Errorf("queue: config: ticket key id %d appears twice", k.ID)
		}
		secret := append([]byte(nil), k.Secret...)
		s.secrets[k.ID] = secret
		s.pools[k.ID] = &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}
	}
	return s, nil
}

func (s *ticketSigner) mac(id byte, room string, payload []byte, out []byte) bool {
	p := s.pools[id]
	if p == nil {
		return false
	}
	h := p.Get().(hash.Hash)
	h.Reset()
	var hdr [2]byte
	hdr[0] = 't' // domain: ticket
	hdr[1] = byte(len(room))
	h.Write(hdr[:])
	h.Write([]byte(room))
	h.Write(payload)
	var sum [sha256.Size]byte
	copy(out, h.Sum(sum[:0])[:macLen])
	p.Put(h)
	return true
}

// encode builds the compact signed form:
// version | key id | flags | uvarint number | uvarint issued unix s | visitor | mac[16],
// visitor = 16 raw bytes (hex flag) or 1 length byte + bytes.
func (s *ticketSigner) encode(t Ticket) (string, error) {
	if !ValidVisitorID(t.Visitor) {
		return "", fmt.Errorf("queue: encode ticket: visitor id must be 1-%d printable bytes", MaxVisitorLen)
	}
	if t.Number < 1 || t.Number > MaxTicketNumber {
		return "", fmt.Errorf("queue: encode ticket: number %d out of range", t.Number)
	}
	buf := make([]byte, 0, 96)
	var flags byte
	if t.Prequeue {
		flags |= flagPrequeue
	}
	hexVisitor := isHex32(t.Visitor)
	if hexVisitor {
		flags |= flagHexVisitor
	}
	buf = append(buf, ticketVersion, s.sign, flags)
	buf = binary.AppendUvarint(buf, uint64(t.Number))
	buf = binary.AppendUvarint(buf, uint64(max(t.IssuedAt.Unix(), 0)))
	if hexVisitor {
		var v [16]byte
		_, _ = hex.Decode(v[:], []byte(t.Visitor))
		buf = append(buf, v[:]...)
	} else {
		buf = append(buf, byte(len(t.Visitor)))
		buf = append(buf, t.Visitor...)
	}
	var m [macLen]byte
	s.mac(s.sign, t.Room, buf, m[:])
	buf = append(buf, m[:]...)
	return ticketEnc.EncodeToString(buf), nil
}

func badTicket(why string) error {
	return fmt.Errorf("queue: decode ticket: %s: %w", why, ErrBadTicket)
}

// decode checks size, encoding, structure and signature (which covers the room name).
func (s *ticketSigner) decode(room, enc string) (Ticket, error) {
	if !ValidRoomName(room) {
		return Ticket{}, fmt.Errorf("queue: decode ticket: room %q: %w", room, ErrInvalidRoomName)
	}
	if len(enc) == 0 {
		return Ticket{}, badTicket("empty")
	}
	if len(enc) > MaxTicketLen {
		return Ticket{}, badTicket("too long")
	}
	var raw [MaxTicketLen]byte
	n, err := ticketEnc.Decode(raw[:], []byte(enc))
	if err != nil {
		return Ticket{}, badTicket("not base64url")
	}
	b := raw[:n]
	if len(b) < 3+1+1+1+macLen {
		return Ticket{}, badTicket("truncated")
	}
	body, sig := b[:len(b)-macLen], b[len(b)-macLen:]
	if body[0] != ticketVersion {
		return Ticket{}, badTicket("unknown version")
	}
	id, flags := body[1], body[2]
	if flags&^flagsKnown != 0 {
		return Ticket{}, badTicket("unknown flags")
	}
	var want [macLen]byte
	if !s.mac(id, room, body, want[:]) {
		return Ticket{}, badTicket("unknown key id")
	}
	if !hmac.Equal(want[:], sig) {
		return Ticket{}, badTicket("signature does not match (tampered or another room's)")
	}
	rest := body[3:]
	num, k := binary.Uvarint(rest)
	if k <= 0 || num < 1 || num > MaxTicketNumber {
		return Ticket{}, badTicket("bad number")
	}
	rest = rest[k:]
	issued, k := binary.Uvarint(rest)
	if k <= 0 || issued > 1<<40 {
		return Ticket{}, badTicket("bad issue time")
	}
	rest = rest[k:]
	var visitor string
	if flags&flagHexVisitor != 0 {
		if len(rest) != 16 {
			return Ticket{}, badTicket("bad visitor")
		}
		visitor = hex.EncodeToString(rest)
	} else {
		if len(rest) < 1 || int(rest[0]) != len(rest)-1 || !ValidVisitorID(string(rest[1:])) {
			return Ticket{}, badTicket("bad visitor")
		}
		visitor = string(rest[1:])
	}
	return Ticket{
		Room:     room,
		Visitor:  visitor,
		Number:   int64(num),
		IssuedAt: time.Unix(int64(issued), 0),
		Prequeue: flags&flagPrequeue != 0,
		KeyID:    id,
	}, nil
}
