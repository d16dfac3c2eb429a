package queue

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// ticketRing holds the ticket signer in use and replaces it when the ticket keys change
// (Engine.SetTicketKeys), without a restart.
type ticketRing struct {
	cur atomic.Pointer[ticketSigner]

	mu      sync.Mutex
	sum     [32]byte             // fingerprint of the keys last set
	seen    map[string]time.Time // id+secret → when first set (zero: at start)
	desired *ticketSigner
	timer   *time.Timer
	gen     uint64
}

func newTicketRing(keys []TicketKey) (*ticketRing, error) {
	s, err := newTicketSigner(keys)
	if err != nil {
		return nil, err
	}
	r := &ticketRing{seen: map[string]time.Time{}, desired: s, sum: ticketKeysSum(keys)}
	for _, k := range keys {
		r.seen[ticketKeyID(k)] = time.Time{}
	}
	r.cur.Store(s)
	return r, nil
}

func (r *ticketRing) signer() *ticketSigner { return r.cur.Load() }

func ticketKeyID(k TicketKey) string {
	h := sha256.Sum256(k.Secret)
	return string(append([]byte{k.ID}, h[:]...))
}

func ticketKeysSum(keys []TicketKey) [32]byte {
	h := sha256.New()
	for _, k := range keys {
		s := sha256.Sum256(k.Secret)
		h.Write([]byte{k.ID})
		h.Write(s[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// SetTicketKeys replaces the ticket keys without a restart: the first signs, all verify, so a
// rotation puts the new secret first and keeps the previous one after it until no ticket it
// signed is still waiting. A key removed stops verifying at once (its tickets are refused).
//
// A new first key is held back for newKeyDelay before it signs (while the previous first key,
// if still listed, goes on signing): replicas read their secrets at different moments, and a
// ticket signed with a secret another replica does not know yet would lose its holder's place
// there. It verifies at once. It reports whether the keys changed.
func (e *Engine) SetTicketKeys(keys []TicketKey, newKeyDelay time.Duration) (bool, error) {
	r := e.tickets
	next, err := newTicketSigner(keys)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sum := ticketKeysSum(keys)
	if sum == r.sum {
		return false, nil
	}
	r.sum = sum
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	now := time.Now()
	live := map[string]bool{}
	for _, k := range keys {
		id := ticketKeyID(k)
		live[id] = true
		if _, ok := r.seen[id]; !ok {
			r.seen[id] = now
		}
	}
	for id := range r.seen {
		if !live[id] {
			delete(r.seen, id)
		}
	}
	r.desired = next
	use := next
	prev := r.cur.Load()
	wait := r.seen[ticketKeyID(keys[0])].Add(newKeyDelay).Sub(now)
	if wait > 0 && prev.sign != next.sign && next.pools[prev.sign] != nil && prev.secretOf(prev.sign) == next.secretOf(prev.sign) {
		held := *next
		held.sign = prev.sign
		use = &held
		gen := r.gen
		r.timer = time.AfterFunc(wait, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.gen == gen {
				r.cur.Store(r.desired)
				e.log.Info().Int("key_id", int(r.desired.sign)).Msg("new ticket key signs")
			}
		})
		e.log.Info().Int("key_id", int(next.sign)).Int("signing_until_promotion", int(prev.sign)).Dur("promotion_in", wait).
			Msg("ticket keys reloaded")
	} else {
		e.log.Info().Int("key_id", int(next.sign)).Int("keys", len(keys)).Msg("ticket keys reloaded")
	}
	r.cur.Store(use)
	return true, nil
}

// TicketKeyID is the id of the ticket key that signs new tickets now.
func (e *Engine) TicketKeyID() byte { return e.tickets.signer().sign }
