package gateway

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/admission"
)

// destination says where an admitted visitor goes: the return URL (token mode) or a
// protected path of the room (proxy mode).
type destination struct {
	returnURL string
	next      string
	bind      string // token mode: admission.Commitment of the site's session, for the token's cnf
}

func (s *Server) destinationFrom(r *http.Request, rm *room) (destination, error) {
	var d destination
	if r.URL.RawQuery == "" { // every app poll: nothing to parse
		return d, nil
	}
	q := r.URL.Query()
	if ret := q.Get("return"); ret != "" {
		if rm.returns == nil {
			return d, httpError(http.StatusBadRequest, "bad_return_url", "this room does not send visitors back to a return URL")
		}
		v, err := rm.returns.Validate(ret)
		if err != nil {
			return d, httpError(http.StatusBadRequest, "bad_return_url", "the return URL is not one this room may send visitors to")
		}
		d.returnURL = v
	}
	if bind := q.Get(admission.BindParam); bind != "" {
		if rm.returns == nil || !admission.ValidCommitment(bind) {
			return d, httpError(http.StatusBadRequest, "bad_bind", "bind must be the base64url SHA-256 of the site's session (token mode)")
		}
		d.bind = bind
	}
	if next := q.Get("next"); next != "" {
		if p, ok := localPath(next); ok && s.match(strings.SplitN(p, "?", 2)[0]) == rm {
			d.next = p
		}
	}
	return d, nil
}

func (d destination) redirect(rm *room, token string) string {
	if d.returnURL != "" {
		u, err := admission.HandoffURL(d.returnURL, token)
		if err != nil { // returnURL was validated: cannot happen
			return ""
		}
		return u
	}
	if d.next != "" {
		return d.next
	}
	if len(rm.cfg.Paths) > 0 {
		return rm.cfg.Paths[0]
	}
	return ""
}

// handleJWKS serves the public keys that verify admission tokens.
func (s *Server) handleJWKS(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", s.keys.JWKS())
}
