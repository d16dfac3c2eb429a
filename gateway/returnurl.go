package gateway

import (
	"errors"
	"net/url"
	"strings"

	"github.com/foyerhq/foyer/admission"
)

// errBadReturnURL is returned for any return URL outside the room's allow-list.
var errBadReturnURL = errors.New("return url not allowed")

// maxReturnURL bounds the return URL; longer ones are refused outright.
const maxReturnURL = 2048

// ReturnURLValidator accepts return URLs that fall under one of the allowed prefixes
// (scheme, host and port equal, path under the prefix's path) and refuses everything else,
// including the classic open-redirect tricks: protocol-relative and backslash URLs, userinfo,
// control characters, encoded separators, and look-alike hosts.
type ReturnURLValidator struct {
	allowed []*url.URL
}

// NewReturnURLValidator parses the allow-list; every entry must be an absolute http(s) URL.
func NewReturnURLValidator(prefixes []string) (*ReturnURLValidator, error) {
	v := &ReturnURLValidator{}
	for _, p := range prefixes {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, errors.New("return url prefix must be an absolute http(s) URL: " + p)
		}
		if u.Path == "" {
			u.Path = "/"
		}
		u.Host = strings.ToLower(u.Host)
		v.allowed = append(v.allowed, u)
	}
	return v, nil
}

// Validate returns the canonical form of raw if it is allowed.
func (v *ReturnURLValidator) Validate(raw string) (string, error) {
	if raw == "" || len(raw) > maxReturnURL {
		return "", errBadReturnURL
	}
	for _, r := range raw {
		if r <= 0x20 || r == 0x7f || r == '\\' || r > 0x7e {
			return "", errBadReturnURL
		}
	}
	low := strings.ToLower(raw)
	if strings.Contains(low, "%2f") || strings.Contains(low, "%5c") || strings.Contains(low, "%00") ||
		strings.Contains(low, "%09") || strings.Contains(low, "%0a") || strings.Contains(low, "%0d") {
		return "", errBadReturnURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errBadReturnURL
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errBadReturnURL
	}
	host := strings.ToLower(u.Host)
	// Match and return the normalised path (dot segments, encoded dots and ";" parameters
	// resolved), so that "/app/%2e%2e/admin" and "/app/..;/admin" are judged as "/admin".
	p := u.Path
	if p == "" {
		p = "/"
	}
	clean, match, ok := admission.CleanPath(p)
	if !ok {
		return "", errBadReturnURL
	}
	for _, a := range v.allowed {
		if u.Scheme != a.Scheme || host != a.Host {
			continue
		}
		if pathUnder(match, a.Path) {
			u.Host, u.Path, u.RawPath = host, clean, ""
			return u.String(), nil
		}
	}
	return "", errBadReturnURL
}

// pathUnder reports whether the normalised path p is the prefix itself or lies under it.
func pathUnder(p, prefix string) bool {
	return p == prefix || p+"/" == prefix ||
		strings.HasPrefix(p, prefix) && (strings.HasSuffix(prefix, "/") || p[len(prefix)] == '/')
}

// localPath accepts a same-origin path (for proxy mode's "next"), normalised, refusing
// anything that a browser would read as another origin.
func localPath(raw string) (string, bool) {
	if raw == "" || len(raw) > maxReturnURL || raw[0] != '/' || strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\") {
		return "", false
	}
	for _, r := range raw {
		if r <= 0x20 || r == 0x7f || r == '\\' || r > 0x7e {
			return "", false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" {
		return "", false
	}
	return admission.LocalPath(u.Path, u.RawQuery)
}
