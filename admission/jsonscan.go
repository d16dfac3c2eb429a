package admission

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small, strict JSON reader for the two flat objects of a token (header and claims). It
// exists so that verification allocates almost nothing: strings come back as slices of the
// input unless they hold escapes. It accepts a subset of what encoding/json accepts (invalid
// UTF-8, lone surrogates and nesting deeper than maxDepth are refused), which the fuzz test
// checks against encoding/json.

const maxDepth = 16

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips white space and then c, reporting whether c was there.
func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// openObject reads '{'. After it, call member until it reports done.
func (s *scanner) openObject() bool { return s.consume('{') }

// member reads the next member name and the ':' after it. first tells whether this is the
// first member (no ',' expected). done is true at the closing '}'.
func (s *scanner) member(first bool) (name []byte, done, ok bool) {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil, true, true
	}
	if !first {
		if !s.consume(',') {
			return nil, false, false
		}
		s.ws()
	}
	name, ok = s.str()
	if !ok || !s.consume(':') {
		return nil, false, false
	}
	s.ws()
	return name, false, true
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string. The result aliases the input unless the string holds escapes.
func (s *scanner) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	s.i++
	start := s.i
	escaped := false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !utf8.Valid(raw) {
				return nil, false
			}
			if !escaped {
				return raw, true
			}
			return unescape(raw)
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, false
		default:
			s.i++
		}
	}
	return nil, false
}

// unescape decodes the escapes of a string body already checked to end well.
func unescape(raw []byte) ([]byte, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return nil, false
		}
		e := raw[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw, i)
			if !ok {
				return nil, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
					return nil, false
				}
				r2, ok := hex4(raw, i+2)
				if !ok {
					return nil, false
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return nil, false
				}
				i += 6
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, false
		}
	}
	return out, true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number reads a number following the JSON grammar and returns its text.
func (s *scanner) number() ([]byte, bool) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// skip reads and discards one value of any kind.
func (s *scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{':
		s.i++
		for first := true; ; first = false {
			_, done, ok := s.member(first)
			if !ok {
				return false
			}
			if done {
				return true
			}
			if !s.skip(depth + 1) {
				return false
			}
		}
	case '[':
		s.i++
		if s.consume(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.consume(']') {
				return true
			}
			if !s.consume(',') {
				return false
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case 0:
		return false
	default:
		_, ok := s.number()
		return ok
	}
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// maxNumericDate is 9999-12-31T23:59:59Z; later or negative dates are refused.
const maxNumericDate = 253402300799

// numericDate converts a JSON number (RFC 7519 NumericDate, seconds since the epoch, possibly
// fractional) to whole seconds, rounding up when roundUp is set and down otherwise.
func numericDate(raw []byte, roundUp bool) (int64, bool) {
	var v int64
	simple := len(raw) > 0 && len(raw) <= 12
	for _, c := range raw {
		if c < '0' || c > '9' {
			simple = false
			break
		}
		v = v*10 + int64(c-'0')
	}
	if simple {
		return v, v <= maxNumericDate
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return 0, false
	}
	if roundUp {
		return int64(math.Ceil(f)), true
	}
	return int64(math.Floor(f)), true
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

var b64Index = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(b64Alphabet); i++ {
		t[b64Alphabet[i]] = byte(i)
	}
	return t
}()

// decodeB64 decodes unpadded base64url from a string into dst without allocating. It is
// strict: padding, other alphabets, and non-zero trailing bits are refused, so a token has
// exactly one encoding. It fails if dst is too short.
func decodeB64(dst []byte, src string) (int, bool) {
	if len(src)%4 == 1 || len(src)*6/8 > len(dst) {
		return 0, false
	}
	di, i := 0, 0
	for ; i+4 <= len(src); i += 4 {
		a, b, c, d := b64Index[src[i]], b64Index[src[i+1]], b64Index[src[i+2]], b64Index[src[i+3]]
		if (a|b|c|d)&0xC0 != 0 { // 0xFF marks a byte outside the alphabet
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[di], dst[di+1], dst[di+2] = byte(v>>16), byte(v>>8), byte(v)
		di += 3
	}
	switch len(src) - i {
	case 2:
		a, b := b64Index[src[i]], b64Index[src[i+1]]
		if (a|b)&0xC0 != 0 || b&0x0F != 0 {
			return 0, false
		}
		dst[di] = a<<2 | b>>4
		di++
	case 3:
		a, b, c := b64Index[src[i]], b64Index[src[i+1]], b64Index[src[i+2]]
		if (a|b|c)&0xC0 != 0 || c&0x03 != 0 {
			return 0, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[di], dst[di+1] = byte(v>>10), byte(v>>2)
		di += 2
	}
	return di, true
}
