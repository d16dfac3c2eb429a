package queue

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
)

// The pre-queue shuffle. Tickets 1..P issued before opening are placed by a keyed pseudorandom
// permutation of 1..P: a balanced Feistel network over the smallest even bit width 2h with
// 2^(2h) >= P, with cycle-walking to stay inside 1..P. No per-visitor storage; anyone with the
// revealed seed and P can recompute every place (VerifyPrequeuePlace).
//
// Round function, round i (0..5) on right half R:
//   F(i, R) = first 8 bytes, big-endian, of AES-256_K(byte i || 7 zero bytes || uint64 R big-endian), masked to h bits,
//   K = SHA-256("foyer-prequeue-v1" || seed).
// One Feistel pass on x in [0, 2^(2h)): L = x >> h, R = x & (2^h-1); per round L, R = R, L ^ F(i, R);
// result L<<h | R. Position of ticket n: x = n-1; repeat x = pass(x) until x < P; position x+1.

const (
	feistelRounds = 6
	seedDomain    = "foyer-prequeue-v1"
	// SeedLen is the length of a room's pre-queue seed in bytes.
	SeedLen = 32
)

type prequeuePerm struct {
	block cipher.Block
	p     uint64
	half  uint
	mask  uint64
}

func newPrequeuePerm(seed []byte, p int64) *prequeuePerm {
	if p < 1 {
		return nil
	}
	h := sha256.New()
	h.Write([]byte(seedDomain))
	h.Write(seed)
	key := h.Sum(nil)
	block, err := aes.NewCipher(key)
	if err != nil { // cannot happen: 32-byte key
		return nil
	}
	bits := uint(2)
	for uint64(1)<<bits < uint64(p) {
		bits += 2
	}
	half := bits / 2
	return &prequeuePerm{block: block, p: uint64(p), half: half, mask: 1<<half - 1}
}

// round is F(i, r); buf is 32 bytes of scratch (one allocation per position, not per round).
func (q *prequeuePerm) round(buf []byte, i int, r uint64) uint64 {
	in, out := buf[:16], buf[16:32]
	clear(in)
	in[0] = byte(i)
	binary.BigEndian.PutUint64(in[8:], r)
	q.block.Encrypt(out, in)
	return binary.BigEndian.Uint64(out[:8]) & q.mask
}

func (q *prequeuePerm) pass(buf []byte, x uint64) uint64 {
	l, r := x>>q.half, x&q.mask
	for i := 0; i < feistelRounds; i++ {
		l, r = r, l^q.round(buf, i, r)
	}
	return l<<q.half | r
}

// position maps ticket n in 1..P to its position in 1..P; 0 for n outside.
func (q *prequeuePerm) position(n int64) int64 {
	if q == nil || n < 1 || uint64(n) > q.p {
		return 0
	}
	buf := make([]byte, 32)
	x := uint64(n - 1)
	for {
		x = q.pass(buf, x)
		if x < q.p {
			return int64(x + 1)
		}
	}
}

// VerifyPrequeuePlace returns the position (1..p) in line of pre-queue ticket number ticket,
// given the room's revealed seed and pre-queue size p; 0 if ticket is not in 1..p. Anyone can
// run it to check their own place: SHA-256(seed) is the commitment published before the
// pre-queue opened.
func VerifyPrequeuePlace(seed []byte, p, ticket int64) int64 {
	return newPrequeuePerm(seed, p).position(ticket)
}
