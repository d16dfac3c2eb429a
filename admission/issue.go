package admission

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Bounds on what Issue signs, so that every token stays well under DefaultMaxTokenBytes.
const (
	maxRoomLen    = 64
	maxVisitorLen = 128
	maxJTILen     = 128
	maxIssuerLen  = 256
)

// Issuer signs admission tokens with the signing key of a KeySet. It is safe for concurrent
// use.
type Issuer struct {
	key     *Key
	ring    *KeyRing // when set, the ring's current signing key signs (key is unused)
	name    string
	issJSON []byte // `{"iss":"<name>","aud":`
}

// NewIssuer returns an Issuer that signs with ks's signing key and names itself issuer in
// iss ("" means DefaultIssuer).
func NewIssuer(ks *KeySet, issuer string) (*Issuer, error) {
	if ks == nil || ks.signing == nil {
		return nil, ErrNoSigningKey
	}
	if issuer == "" {
		issuer = DefaultIssuer
	}
	if len(issuer) > maxIssuerLen || !utf8.ValidString(issuer) {
		return nil, fmt.Errorf("admission: issuer must be valid UTF-8 of at most %d bytes", maxIssuerLen)
	}
	q, err := json.Marshal(issuer)
	if err != nil {
		return nil, fmt.Errorf("admission: encode issuer: %w", err)
	}
	pre := append([]byte(`{"iss":`), q...)
	pre = append(pre, `,"aud":`...)
	return &Issuer{key: ks.signing, name: issuer, issJSON: pre}, nil
}

// NewRingIssuer returns an Issuer that signs with the current signing key of r, following
// its reloads.
func NewRingIssuer(r *KeyRing, issuer string) (*Issuer, error) {
	if r == nil {
		return nil, ErrNoSigningKey
	}
	i, err := NewIssuer(r.Current(), issuer)
	if err != nil {
		return nil, err
	}
	i.ring = r
	return i, nil
}

// signingKey is the key that signs now.
func (i *Issuer) signingKey() *Key {
	if i.ring != nil {
		return i.ring.cur.Load().signing
	}
	return i.key
}

// KeyID returns the kid of the key the Issuer signs with.
func (i *Issuer) KeyID() string { return i.signingKey().id }

// Name returns the iss the Issuer writes.
func (i *Issuer) Name() string { return i.name }

// Issue signs c: Room, Visitor, JTI, IssuedAt and ExpiresAt are required; NotBefore defaults
// to IssuedAt. Times are truncated to whole seconds. c.Issuer, c.KeyID and c.Algorithm are
// ignored.
func (i *Issuer) Issue(c Claims) (string, error) {
	switch {
	case c.Room == "" || len(c.Room) > maxRoomLen:
		return "", fmt.Errorf("admission: issue: room must be 1 to %d bytes", maxRoomLen)
	case c.Visitor == "" || len(c.Visitor) > maxVisitorLen:
		return "", fmt.Errorf("admission: issue: visitor must be 1 to %d bytes", maxVisitorLen)
	case c.JTI == "" || len(c.JTI) > maxJTILen:
		return "", fmt.Errorf("admission: issue: jti must be 1 to %d bytes", maxJTILen)
	case c.Confirmation != "" && !validCommitment([]byte(c.Confirmation)):
		return "", errors.New("admission: issue: confirmation must be a Commitment (43 base64url characters)")
	case c.IssuedAt.IsZero() || c.ExpiresAt.IsZero():
		return "", errors.New("admission: issue: iat and exp are required")
	}
	iat, exp := c.IssuedAt.Unix(), c.ExpiresAt.Unix()
	nbf := iat
	if !c.NotBefore.IsZero() {
		nbf = c.NotBefore.Unix()
	}
	if exp <= iat || iat < 0 || nbf < 0 || exp > maxNumericDate {
		return "", errors.New("admission: issue: exp must be after iat, both in 1970..9999")
	}
	if !utf8.ValidString(c.Room) || !utf8.ValidString(c.Visitor) || !utf8.ValidString(c.JTI) {
		return "", errors.New("admission: issue: claims must be valid UTF-8")
	}

	var pbuf [512]byte
	p := append(pbuf[:0], i.issJSON...)
	p = appendJSONString(p, c.Room)
	p = append(p, `,"sub":`...)
	p = appendJSONString(p, c.Visitor)
	p = append(p, `,"jti":`...)
	p = appendJSONString(p, c.JTI)
	p = append(p, `,"iat":`...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"nbf":`...)
	p = strconv.AppendInt(p, nbf, 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, exp, 10)
	if c.Confirmation != "" {
		p = append(p, `,"cnf":{"s256":"`...)
		p = append(p, c.Confirmation...)
		p = append(p, `"}`...)
	}
	p = append(p, '}')

	k := i.signingKey()
	enc := base64.RawURLEncoding
	n := len(k.header) + enc.EncodedLen(len(p))
	out := make([]byte, n, n+1+enc.EncodedLen(k.sigLen))
	copy(out, k.header)
	enc.Encode(out[len(k.header):], p)
	sig, err := k.method.Sign(string(out), k.private)
	if err != nil {
		return "", fmt.Errorf("admission: sign: %w", err)
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
}

// appendJSONString appends s as a JSON string; s is valid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
