package admission

import "strings"

// CleanPath normalises a decoded URL path (http.Request.URL.Path) the way a permissive backend
// would read it, so that what foyer checks is what the backend serves:
//
//   - dot segments are resolved, also when they carry ";" parameters ("..;x" is "..", as
//     servlet containers read it) or arrived percent-encoded ("%2e%2e" is decoded to ".."
//     before this is called);
//   - empty segments ("//") are collapsed;
//   - ";" parameters are kept in clean but dropped from every segment of match, the form to
//     compare with path prefixes.
//
// It refuses (ok false) a path that is empty, not absolute, climbs above the root, or holds a
// backslash, a control character, or a still-encoded dot, slash or backslash (%2e, %2f, %5c
// left after one decoding mean a second decoding downstream could change the path).
func CleanPath(p string) (clean, match string, ok bool) {
	if p == "" || p[0] != '/' || len(p) > maxPathBytes {
		return "", "", false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", "", false
		}
		if p[i] == '%' && i+2 < len(p) {
			switch strings.ToLower(p[i+1 : i+3]) {
			case "2e", "2f", "5c":
				return "", "", false
			}
		}
	}
	// Fast path: nothing to resolve, no parameters.
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") && !strings.Contains(p, ";") {
		return p, p, true
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	trailing := strings.HasSuffix(p, "/")
	for i, s := range segs {
		name, _, _ := strings.Cut(s, ";")
		switch name {
		case "": // "//", or ";x" alone: an empty segment, collapsed
			continue
		case ".":
		case "..":
			if len(out) == 0 {
				return "", "", false
			}
			out = out[:len(out)-1]
		default:
			out = append(out, s)
			continue
		}
		if i == len(segs)-1 {
			trailing = true // "/a/." and "/a/b/.." name a directory
		}
	}
	var cb, mb strings.Builder
	for _, s := range out {
		cb.WriteByte('/')
		cb.WriteString(s)
		mb.WriteByte('/')
		name, _, _ := strings.Cut(s, ";")
		mb.WriteString(name)
	}
	if trailing || len(out) == 0 {
		cb.WriteByte('/')
		mb.WriteByte('/')
	}
	return cb.String(), mb.String(), true
}

// maxPathBytes bounds the paths CleanPath accepts.
const maxPathBytes = 8192

// LocalPath returns a same-origin target built from a decoded path and a raw query: the path
// cleaned by CleanPath, so that it starts with exactly one "/" and no browser can read it as
// another origin. It refuses a path CleanPath refuses and one that starts with "//" or "/\"
// (a protocol-relative URL in disguise).
func LocalPath(path, rawQuery string) (string, bool) {
	if strings.HasPrefix(path, "//") || strings.HasPrefix(path, "/\\") {
		return "", false
	}
	clean, _, ok := CleanPath(path)
	if !ok {
		return "", false
	}
	for i := 0; i < len(rawQuery); i++ {
		if c := rawQuery[i]; c <= 0x20 || c == 0x7f || c == '#' {
			return "", false
		}
	}
	u := escapePath(clean)
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return u, true
}

// escapePath percent-encodes what may not stand in a path as is.
func escapePath(p string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("/-._~!$&'()*+,;=:@", c) >= 0 {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(p)+8), p[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&0xF])
	}
	if b == nil {
		return p
	}
	return string(b)
}
