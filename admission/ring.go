package admission

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// KeyRing is the KeySet of a key directory that is replaced, without a restart, when the
// directory changes: a key added there is published in the JWKS and verifies at once, and a
// key removed stops verifying. Reload reads the directory again (on SIGHUP, or from Watch).
//
// A new signing key (see LoadKeyDir for which key signs) is held back for NewKeyDelay before it
// signs: replicas read their copy of the directory at different moments (a Kubernetes Secret
// reaches each pod within a minute or so), and a token signed with a key another replica has
// not read yet would be refused there; so would a backend's cached JWKS. Until then the
// previous signing key signs, if it is still in the directory; if it was removed (a leaked key)
// the new one signs at once. At the first load every key counts as old.
//
// The Issuer and Verifier built from a KeyRing (NewRingIssuer, NewVerifier) always use its
// current set. A KeyRing is safe for concurrent use.
type KeyRing struct {
	dir   string
	delay time.Duration
	log   zerolog.Logger

	cur atomic.Pointer[KeySet]

	mu      sync.Mutex // serialises Reload and promotion
	sum     [32]byte   // fingerprint of the directory last loaded
	desired *KeySet    // the set as LoadKeyDir chose it: what cur becomes after the delay
	timer   *time.Timer
	seen    map[string]time.Time // kid → when this ring first read it (zero: at the first load)
	gen     uint64               // bumped on every reload, so a stale promotion does nothing
}

// KeyRingOptions configure a KeyRing.
type KeyRingOptions struct {
	// NewKeyDelay is how long a new signing key is published (JWKS, verification) before it
	// signs. Zero: it signs at once.
	NewKeyDelay time.Duration
	// Logger receives a line for every change and every failed reload.
	Logger zerolog.Logger
}

// NewKeyRing loads the key directory like LoadOrGenerate (generating a key on a first run
// when alg is set) and returns a ring over it.
func NewKeyRing(dir string, alg Algorithm, opts KeyRingOptions) (*KeyRing, error) {
	var ks *KeySet
	var err error
	if alg != "" {
		ks, err = LoadOrGenerate(dir, alg, opts.Logger)
	} else {
		ks, err = LoadKeyDir(dir)
	}
	if err != nil {
		return nil, err
	}
	r := &KeyRing{dir: dir, delay: opts.NewKeyDelay, log: opts.Logger, desired: ks, seen: map[string]time.Time{}}
	for id := range ks.keys {
		r.seen[id] = time.Time{} // at the first load every key counts as old
	}
	r.sum, _ = dirFingerprint(dir)
	r.cur.Store(ks)
	return r, nil
}

// StaticKeyRing wraps a fixed KeySet (tests, tools): Reload does nothing.
func StaticKeyRing(ks *KeySet) *KeyRing {
	r := &KeyRing{desired: ks}
	r.cur.Store(ks)
	return r
}

// Current returns the set in use now: every key of the directory verifies; SigningKey signs.
func (r *KeyRing) Current() *KeySet { return r.cur.Load() }

// Key returns the key with the given kid from the current set (KeySource).
func (r *KeyRing) Key(kid string) (*Key, error) { return r.cur.Load().Key(kid) }

// JWKS returns the current set's JWKS.
func (r *KeyRing) JWKS() []byte { return r.cur.Load().JWKS() }

// Reload reads the key directory again when its content changed and installs the new set. It
// reports whether anything changed. On an error (an unreadable or half-written key, "current"
// naming a missing key) the set in use stays, and the error says why.
func (r *KeyRing) Reload() (bool, error) {
	if r.dir == "" {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sum, err := dirFingerprint(r.dir)
	if err != nil {
		return false, err
	}
	if sum == r.sum {
		return false, nil
	}
	next, err := LoadKeyDir(r.dir)
	if err != nil {
		return false, err
	}
	if next.signing == nil {
		return false, fmt.Errorf("admission: %s has no private key left to sign with; keeping the keys in use", r.dir)
	}
	r.sum = sum
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	now := time.Now()
	for id := range next.keys {
		if _, ok := r.seen[id]; !ok {
			r.seen[id] = now
		}
	}
	for id := range r.seen {
		if !next.has(id) {
			delete(r.seen, id) // a key put back later counts as new again
		}
	}
	prev := r.cur.Load()
	r.desired = next
	use := next
	ev := r.log.Info().Str("signing", next.signing.id).Strs("kids", kids(next))
	if wait := r.seen[next.signing.id].Add(r.delay).Sub(now); wait > 0 && prev.signing != nil && prev.signing.id != next.signing.id {
		// A signing key too new to be known everywhere: publish it, and sign with the previous
		// one until the delay has passed, when that one is still there.
		if k := next.keys[prev.signing.id]; k != nil && k.CanSign() {
			rest := make([]*Key, 0, len(next.ordered)-1)
			for _, o := range next.ordered {
				if o.id != k.id {
					rest = append(rest, o)
				}
			}
			held, err := NewKeySet(k, rest...)
			if err != nil {
				return false, err
			}
			use = held
			gen := r.gen
			r.timer = time.AfterFunc(wait, func() { r.promote(gen) })
			ev = ev.Str("signing_until_promotion", k.id).Dur("promotion_in", wait)
		}
	}
	r.cur.Store(use)
	ev.Msg("admission keys reloaded")
	return true, nil
}

// promote makes the desired set current once a new signing key's delay has passed.
func (r *KeyRing) promote(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	r.cur.Store(r.desired)
	r.timer = nil
	r.log.Info().Str("signing", r.desired.signing.id).Msg("new admission signing key in use")
}

func (ks *KeySet) has(kid string) bool { return ks.keys[kid] != nil }

func kids(ks *KeySet) []string {
	out := make([]string, len(ks.ordered))
	for i, k := range ks.ordered {
		out[i] = k.id
	}
	return out
}

// Watch reloads the ring every interval until done is closed, logging failures (once per
// distinct error, so a half-copied key is not logged every few seconds).
func (r *KeyRing) Watch(done <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last string
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		_, err := r.Reload()
		switch {
		case err != nil && err.Error() != last:
			r.log.Error().Err(err).Msg("admission keys not reloaded; the keys in use stay")
			last = err.Error()
		case err == nil:
			last = ""
		}
	}
}

// dirFingerprint hashes the names and contents of the key files in dir and of its "current"
// file, following symbolic links (a mounted Kubernetes Secret is links to a hidden directory
// swapped as a whole).
func dirFingerprint(dir string) ([32]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return [32]byte{}, fmt.Errorf("admission: read key directory: %w", err)
	}
	h := sha256.New()
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if kid, _ := kidFromFileName(e.Name()); (kid != "" && !strings.HasPrefix(e.Name(), ".")) || e.Name() == CurrentFile {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, n := range names {
		data, err := readKeyFile(filepath.Join(dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since ReadDir
		}
		if err != nil {
			if st, serr := os.Stat(filepath.Join(dir, n)); serr == nil && st.IsDir() {
				continue
			}
			return [32]byte{}, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(data))
		h.Write(data)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}
