package admission

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reasons a token is refused. Verify wraps one of them with the detail, so test with errors.Is;
// ErrorCode maps each to a stable code for API responses.
var (
	// ErrMalformed: not a well-formed admission JWT (structure, base64, JSON, size, or a
	// required claim missing).
	ErrMalformed = errors.New("malformed token")
	// ErrAlgorithm: the header names an algorithm that is not accepted ("none" never is), or
	// not the one its key is for.
	ErrAlgorithm = errors.New("token algorithm not accepted")
	// ErrUnknownKey: no key with the token's kid.
	ErrUnknownKey = errors.New("unknown token key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("bad token signature")
	// ErrExpired: exp is past, beyond the leeway.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf (or iat) is in the future, beyond the leeway.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrWrongRoom: aud is not the room the token was presented for.
	ErrWrongRoom = errors.New("token is for another room")
	// ErrWrongIssuer: iss is not the expected issuer.
	ErrWrongIssuer = errors.New("token from another issuer")
	// ErrMissingToken: the request carries no admission token (middleware).
	ErrMissingToken = errors.New("no admission token")
	// ErrVisitorMismatch: the token's sub is not the visitor of the request (middleware,
	// visitor binding).
	ErrVisitorMismatch = errors.New("token belongs to another visitor")
)

// ErrorCode returns the API error code for a refusal: "token_malformed", "token_algorithm",
// "token_unknown_key", "token_bad_signature", "token_expired", "token_not_yet_valid",
// "token_wrong_room", "token_wrong_issuer", "visitor_mismatch", "admission_required", or
// "token_invalid" for anything else.
func ErrorCode(err error) string {
	switch {
	case errors.Is(err, ErrMissingToken):
		return "admission_required"
	case errors.Is(err, ErrExpired):
		return "token_expired"
	case errors.Is(err, ErrNotYetValid):
		return "token_not_yet_valid"
	case errors.Is(err, ErrWrongRoom):
		return "token_wrong_room"
	case errors.Is(err, ErrWrongIssuer):
		return "token_wrong_issuer"
	case errors.Is(err, ErrUnknownKey):
		return "token_unknown_key"
	case errors.Is(err, ErrBadSignature):
		return "token_bad_signature"
	case errors.Is(err, ErrAlgorithm):
		return "token_algorithm"
	case errors.Is(err, ErrMalformed):
		return "token_malformed"
	case errors.Is(err, ErrVisitorMismatch):
		return "visitor_mismatch"
	}
	return "token_invalid"
}

// Defaults and bounds for VerifierOptions.
const (
	// DefaultIssuer is the iss of foyer's tokens unless configured otherwise.
	DefaultIssuer = "foyer"
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 5 * time.Second
	// MaxLeeway is the largest leeway a Verifier accepts.
	MaxLeeway = 30 * time.Second
	// DefaultMaxTokenBytes bounds the size of a token; foyer's own are about 300 to 600 bytes.
	DefaultMaxTokenBytes = 4096
)

// Claims are the claims of an admission token.
type Claims struct {
	// Issuer is iss; Issue ignores the field and uses the Issuer's name.
	Issuer string
	// Room is aud: the waiting room the visitor was admitted to.
	Room string
	// Visitor is sub: an opaque visitor id, for logs and the backend's bookkeeping. It is not a
	// credential: knowing it proves nothing.
	Visitor string
	// Confirmation is cnf.s256: Commitment(secret) of the secret the token is bound to (the
	// visitor's secret in proxy mode, or the value the site bound it to in token mode). A
	// token is only good together with that secret: see Claims.Confirms.
	Confirmation string
	// JTI is jti: the id of the admission lease, used to release it.
	JTI string
	// IssuedAt, NotBefore and ExpiresAt are iat, nbf and exp, in whole seconds.
	IssuedAt, NotBefore, ExpiresAt time.Time
	// KeyID and Algorithm are the kid and alg of the key that verified the token; set by
	// Verify, ignored by Issue.
	KeyID     string
	Algorithm Algorithm
}

// KeySource gives the verification key for a kid. KeySet (keys held locally) and RemoteKeys
// (keys fetched from foyer's JWKS) implement it. Key returns an error wrapping ErrUnknownKey
// when there is no such key.
type KeySource interface {
	Key(kid string) (*Key, error)
}

// VerifierOptions configure a Verifier. The zero value is usable: issuer "foyer", leeway 5 s,
// every supported algorithm, tokens up to 4 KiB, aud must match the room.
type VerifierOptions struct {
	// Issuer is the required iss; default DefaultIssuer.
	Issuer string
	// Leeway is the clock skew tolerated on exp, nbf and iat: zero means DefaultLeeway,
	// negative means none; at most MaxLeeway.
	Leeway time.Duration
	// Algorithms are the accepted algorithms; default all of EdDSA, RS256, HS256. Whatever the
	// list, a token must also use the algorithm of the key its kid names.
	Algorithms []Algorithm
	// MaxTokenBytes bounds the token length; default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// AnyRoom makes Verify accept any aud when it is given the room "". For tools such as
	// `foyer token verify`; a backend should always name the room it protects.
	AnyRoom bool
}

// Verifier checks admission tokens offline: signature with a pinned algorithm, exp (required),
// nbf, iat, aud and iss. It is safe for concurrent use.
type Verifier struct {
	keys     KeySource
	local    *KeySet  // keys, when it is a *KeySet: looked up without allocating
	ring     *KeyRing // keys, when it is a *KeyRing: its current set, likewise
	issuer   string
	leeway   int64 // seconds
	algs     [3]bool
	maxBytes int
	anyRoom  bool
}

// NewVerifier returns a Verifier that takes its keys from keys.
func NewVerifier(keys KeySource, opts VerifierOptions) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("admission: verifier needs a key source")
	}
	v := &Verifier{keys: keys, issuer: opts.Issuer, maxBytes: opts.MaxTokenBytes, anyRoom: opts.AnyRoom}
	v.local, _ = keys.(*KeySet)
	v.ring, _ = keys.(*KeyRing)
	if v.issuer == "" {
		v.issuer = DefaultIssuer
	}
	switch l := opts.Leeway; {
	case l == 0:
		v.leeway = int64(DefaultLeeway / time.Second)
	case l < 0:
		v.leeway = 0
	case l > MaxLeeway:
		return nil, fmt.Errorf("admission: leeway %s is above the maximum %s", l, MaxLeeway)
	default:
		v.leeway = int64((l + time.Second - 1) / time.Second)
	}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = []Algorithm{EdDSA, RS256, HS256}
	}
	for _, a := range algs {
		i := algIndex(a)
		if i < 0 {
			return nil, fmt.Errorf("admission: unsupported algorithm %q", a)
		}
		v.algs[i] = true
	}
	return v, nil
}

func algIndex(a Algorithm) int {
	switch a {
	case EdDSA:
		return 0
	case RS256:
		return 1
	case HS256:
		return 2
	}
	return -1
}

// Issuer returns the iss the verifier requires.
func (v *Verifier) Issuer() string { return v.issuer }

// Verify checks token for room at time now and returns its claims, or an error wrapping one
// of ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrBadSignature, ErrWrongIssuer,
// ErrWrongRoom, ErrExpired, ErrNotYetValid (checked in that order). The claims are not
// trusted until the signature verifies, so only the header is ever read from an unverified
// token.
//
// On ErrExpired and ErrNotYetValid the signature, issuer and room were good, and the returned
// Claims are filled in: a caller may, for example, still accept the release of an expired
// lease. On every other error they are zero.
func (v *Verifier) Verify(token, room string, now time.Time) (Claims, error) {
	if len(token) > v.maxBytes {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, v.maxBytes)
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 < 0 {
		return Claims{}, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	dot2 := strings.IndexByte(token[dot1+1:], '.')
	if dot2 < 0 {
		return Claims{}, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	dot2 += dot1 + 1
	if strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return Claims{}, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}

	// Header: alg and kid. Decoded on the stack; a real header is ~60 bytes.
	var hbuf [256]byte
	hn, ok := decodeB64(hbuf[:], token[:dot1])
	if !ok {
		return Claims{}, fmt.Errorf("%w: header is not base64url or too long", ErrMalformed)
	}
	alg, kid, err := parseHeader(hbuf[:hn])
	if err != nil {
		return Claims{}, err
	}
	if ai := algIndex(Algorithm(alg)); ai < 0 || !v.algs[ai] {
		return Claims{}, fmt.Errorf("%w: %q", ErrAlgorithm, truncate(alg))
	}
	if len(kid) == 0 {
		return Claims{}, fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	var key *Key
	if v.local != nil {
		key = v.local.lookup(kid)
	} else if v.ring != nil {
		key = v.ring.cur.Load().lookup(kid)
	} else if k, err := v.keys.Key(string(kid)); err == nil {
		key = k
	}
	if key == nil {
		return Claims{}, fmt.Errorf("%w: kid %q", ErrUnknownKey, truncate(kid))
	}
	// The key decides the algorithm: an HS256 token naming a public key's kid is refused here,
	// so a public key is never used as an HMAC secret.
	if string(key.alg) != string(alg) {
		return Claims{}, fmt.Errorf("%w: %s token for %s key %q", ErrAlgorithm, string(alg), key.alg, key.id)
	}

	// Signature.
	sseg := token[dot2+1:]
	if len(sseg)*6/8 != key.sigLen {
		return Claims{}, fmt.Errorf("%w: wrong signature length", ErrBadSignature)
	}
	sig := make([]byte, key.sigLen)
	if n, ok := decodeB64(sig, sseg); !ok || n != key.sigLen {
		return Claims{}, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	if err := key.method.Verify(token[:dot2], sig, key.public); err != nil {
		return Claims{}, ErrBadSignature
	}

	// Claims, now authenticated. Decoded on the stack when they fit.
	var pbuf [1024]byte
	pseg := token[dot1+1 : dot2]
	payload := pbuf[:]
	if n := len(pseg) * 6 / 8; n > len(pbuf) {
		payload = make([]byte, n)
	}
	pn, ok := decodeB64(payload, pseg)
	if !ok {
		return Claims{}, fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	rc, err := parseClaims(payload[:pn])
	if err != nil {
		return Claims{}, err
	}
	return v.check(rc, key, room, now)
}

func truncate(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

func (v *Verifier) check(rc rawClaims, key *Key, room string, now time.Time) (Claims, error) {
	if rc.exp < 0 {
		return Claims{}, fmt.Errorf("%w: no exp", ErrMalformed)
	}
	if rc.aud.kind == audNone {
		return Claims{}, fmt.Errorf("%w: no aud", ErrMalformed)
	}
	if len(rc.sub) == 0 {
		return Claims{}, fmt.Errorf("%w: no sub", ErrMalformed)
	}
	if len(rc.jti) == 0 {
		return Claims{}, fmt.Errorf("%w: no jti", ErrMalformed)
	}
	if rc.iss == nil || string(rc.iss) != v.issuer {
		return Claims{}, fmt.Errorf("%w: iss %q, want %q", ErrWrongIssuer, truncate(rc.iss), v.issuer)
	}
	c := Claims{Issuer: v.issuer, KeyID: key.id, Algorithm: key.alg}
	switch {
	case room != "":
		if !rc.aud.contains(room) {
			return Claims{}, fmt.Errorf("%w: aud %s, want %q", ErrWrongRoom, truncate(rc.aud.raw), room)
		}
		c.Room = room
	case v.anyRoom:
		c.Room = rc.aud.first()
	default:
		return Claims{}, fmt.Errorf("%w: no room given to check aud against", ErrWrongRoom)
	}
	// One allocation for the strings.
	all := string(rc.sub) + string(rc.jti) + string(rc.cnf)
	c.Visitor, c.JTI, c.Confirmation = all[:len(rc.sub)], all[len(rc.sub):len(rc.sub)+len(rc.jti)], all[len(rc.sub)+len(rc.jti):]
	c.ExpiresAt = time.Unix(rc.exp, 0)
	if rc.iat >= 0 {
		c.IssuedAt = time.Unix(rc.iat, 0)
	}
	if rc.nbf >= 0 {
		c.NotBefore = time.Unix(rc.nbf, 0)
	}
	t := now.Unix()
	if t >= rc.exp+v.leeway {
		return c, fmt.Errorf("%w: exp %s is %s before now", ErrExpired,
			c.ExpiresAt.UTC().Format(time.RFC3339), time.Duration(t-rc.exp)*time.Second)
	}
	if rc.nbf >= 0 && rc.nbf > t+v.leeway {
		return c, fmt.Errorf("%w: nbf %s is %s after now", ErrNotYetValid,
			c.NotBefore.UTC().Format(time.RFC3339), time.Duration(rc.nbf-t)*time.Second)
	}
	if rc.iat >= 0 && rc.iat > t+v.leeway {
		return c, fmt.Errorf("%w: iat %s is %s after now", ErrNotYetValid,
			c.IssuedAt.UTC().Format(time.RFC3339), time.Duration(rc.iat-t)*time.Second)
	}
	return c, nil
}

// parseHeader returns alg and kid from a JWS header. A header with "crit" is refused: foyer
// understands no extension, and RFC 7515 says to refuse what one does not understand.
func parseHeader(b []byte) (alg, kid []byte, err error) {
	s := scanner{b: b}
	if !s.openObject() {
		return nil, nil, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	var seenAlg, seenKid, seenTyp bool
	for first := true; ; first = false {
		name, done, ok := s.member(first)
		if !ok {
			return nil, nil, fmt.Errorf("%w: header is not valid JSON", ErrMalformed)
		}
		if done {
			break
		}
		var dup *bool
		switch string(name) {
		case "alg":
			dup = &seenAlg
			alg, ok = s.str()
		case "kid":
			dup = &seenKid
			kid, ok = s.str()
		case "typ":
			dup = &seenTyp
			var typ []byte
			typ, ok = s.str()
			if ok && !bytes.EqualFold(typ, []byte("JWT")) {
				return nil, nil, fmt.Errorf("%w: typ %q is not JWT", ErrMalformed, truncate(typ))
			}
		case "crit":
			return nil, nil, fmt.Errorf("%w: header has crit", ErrMalformed)
		default:
			ok = s.skip(1)
		}
		if !ok {
			return nil, nil, fmt.Errorf("%w: header is not valid JSON", ErrMalformed)
		}
		if dup != nil {
			if *dup {
				return nil, nil, fmt.Errorf("%w: duplicate %q in header", ErrMalformed, string(name))
			}
			*dup = true
		}
	}
	if !s.end() {
		return nil, nil, fmt.Errorf("%w: data after header", ErrMalformed)
	}
	if !seenAlg {
		return nil, nil, fmt.Errorf("%w: no alg", ErrAlgorithm)
	}
	return alg, kid, nil
}

const (
	audNone = iota
	audString
	audArray
)

// audience is aud as found: one string, or the raw text of an array of strings.
type audience struct {
	kind int
	one  []byte
	raw  []byte
}

func (a *audience) contains(room string) bool {
	if a.kind == audString {
		return string(a.one) == room
	}
	for s, v, ok := a.elems(); ok; v, ok = a.next(&s) {
		if string(v) == room {
			return true
		}
	}
	return false
}

func (a *audience) first() string {
	if a.kind == audString {
		return string(a.one)
	}
	_, v, _ := a.elems()
	return string(v)
}

// elems starts reading the elements of an array aud (already validated by parseAud).
func (a *audience) elems() (scanner, []byte, bool) {
	s := scanner{b: a.raw}
	s.consume('[')
	s.ws()
	v, ok := s.str()
	return s, v, ok
}

func (a *audience) next(s *scanner) ([]byte, bool) {
	if !s.consume(',') {
		return nil, false
	}
	s.ws()
	return s.str()
}

// rawClaims are the claims as slices of the decoded payload; -1 marks an absent date.
type rawClaims struct {
	iss, sub, jti, cnf []byte
	aud                audience
	iat, nbf, exp      int64
}

// parseClaims reads the claims object. It returns by value so that the slices into b stay
// on the caller's stack.
func parseClaims(b []byte) (rawClaims, error) {
	rc := rawClaims{iat: -1, nbf: -1, exp: -1}
	s := scanner{b: b}
	if !s.openObject() {
		return rawClaims{}, fmt.Errorf("%w: claims are not a JSON object", ErrMalformed)
	}
	var seen [8]bool // iss aud sub jti iat nbf exp cnf
	for first := true; ; first = false {
		name, done, ok := s.member(first)
		if !ok {
			return rawClaims{}, fmt.Errorf("%w: claims are not valid JSON", ErrMalformed)
		}
		if done {
			break
		}
		idx := -1
		switch string(name) {
		case "iss":
			idx = 0
			rc.iss, ok = s.str()
		case "aud":
			idx = 1
			rc.aud, ok = parseAud(&s)
		case "sub":
			idx = 2
			rc.sub, ok = s.str()
		case "jti":
			idx = 3
			rc.jti, ok = s.str()
		case "iat":
			idx = 4
			rc.iat, ok = s.date(false)
		case "nbf":
			idx = 5
			rc.nbf, ok = s.date(true)
		case "exp":
			idx = 6
			rc.exp, ok = s.date(false)
		case "cnf":
			idx = 7
			rc.cnf, ok = parseCnf(&s)
		default:
			ok = s.skip(1)
		}
		if !ok {
			if idx >= 0 {
				return rawClaims{}, fmt.Errorf("%w: bad %q claim", ErrMalformed, string(name))
			}
			return rawClaims{}, fmt.Errorf("%w: claims are not valid JSON", ErrMalformed)
		}
		if idx >= 0 {
			if seen[idx] {
				return rawClaims{}, fmt.Errorf("%w: duplicate %q claim", ErrMalformed, string(name))
			}
			seen[idx] = true
		}
	}
	if !s.end() {
		return rawClaims{}, fmt.Errorf("%w: data after claims", ErrMalformed)
	}
	return rc, nil
}

// date reads a NumericDate. iat is rounded down and nbf up, so that neither is moved earlier
// than the issuer meant; exp is rounded down, so a token never lives longer.
func (s *scanner) date(roundUp bool) (int64, bool) {
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, false
	}
	raw, ok := s.number()
	if !ok {
		return 0, false
	}
	return numericDate(raw, roundUp)
}

// parseCnf reads the confirmation object (RFC 7800) and returns its "s256" member, which
// must be a commitment (43 base64url characters); other members are skipped.
func parseCnf(s *scanner) ([]byte, bool) {
	if !s.openObject() {
		return nil, false
	}
	var v []byte
	for first := true; ; first = false {
		name, done, ok := s.member(first)
		if !ok {
			return nil, false
		}
		if done {
			break
		}
		if string(name) == "s256" {
			if v != nil {
				return nil, false
			}
			if v, ok = s.str(); !ok || !validCommitment(v) {
				return nil, false
			}
			continue
		}
		if !s.skip(1) {
			return nil, false
		}
	}
	return v, true
}

func parseAud(s *scanner) (audience, bool) {
	switch s.peek() {
	case '"':
		v, ok := s.str()
		if !ok || len(v) == 0 {
			return audience{}, false
		}
		return audience{kind: audString, one: v, raw: v}, true
	case '[':
		start := s.i
		s.i++
		n := 0
		if !s.consume(']') {
			for {
				s.ws()
				v, ok := s.str()
				if !ok || len(v) == 0 {
					return audience{}, false
				}
				n++
				if s.consume(']') {
					break
				}
				if !s.consume(',') {
					return audience{}, false
				}
			}
		}
		if n == 0 {
			return audience{}, false
		}
		return audience{kind: audArray, raw: s.b[start:s.i]}, true
	}
	return audience{}, false
}

// peekRoom returns the aud of a token without verifying it, for the release client, which
// needs the room to build the URL; foyer verifies the token itself.
func peekRoom(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > DefaultMaxTokenBytes {
		return "", fmt.Errorf("%w: not a JWT", ErrMalformed)
	}
	payload := make([]byte, len(parts[1])*6/8)
	n, ok := decodeB64(payload, parts[1])
	if !ok {
		return "", fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	rc, err := parseClaims(payload[:n])
	if err != nil {
		return "", err
	}
	if rc.aud.kind == audNone {
		return "", fmt.Errorf("%w: no aud", ErrMalformed)
	}
	return rc.aud.first(), nil
}
