package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"

	"github.com/foyerhq/foyer/admission"
)

// backendCredential is one configured backend key, kept as a digest.
type backendCredential struct {
	name   string
	rooms  []string // empty: every room
	digest [sha256.Size]byte
}

func newBackendCredentials(keys []BackendKey) []backendCredential {
	out := make([]backendCredential, 0, len(keys))
	for _, k := range keys {
		out = append(out, backendCredential{name: k.Name, rooms: k.Rooms, digest: sha256.Sum256([]byte(k.Key))})
	}
	return out
}

// backendRelease reports whether the release request carries a backend key valid for rm. No
// header: false (a visitor's release). A header that matches no key for the room: 401. Every
// key is compared, each in constant time.
func (s *Server) backendRelease(rm *room, r *http.Request) (bool, error) {
	key := r.Header.Get(admission.BackendKeyHeader)
	if key == "" {
		return false, nil
	}
	if len(key) > 512 {
		return false, httpError(http.StatusUnauthorized, "bad_backend_key", "the backend key was refused")
	}
	d := sha256.Sum256([]byte(key))
	ok := false
	for _, b := range s.backends {
		if subtle.ConstantTimeCompare(d[:], b.digest[:]) == 1 && (len(b.rooms) == 0 || slices.Contains(b.rooms, rm.cfg.Name)) {
			ok = true
		}
	}
	if !ok {
		return false, httpError(http.StatusUnauthorized, "bad_backend_key", "the backend key was refused")
	}
	return true, nil
}
