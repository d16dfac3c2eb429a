package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// Cookie names foyer alone reads. The ticket cookie is per room so one visitor can wait in
// several rooms. The admission and visitor cookies and the admission header are named by the
// admission package (admission.CookieNameFor, admission.VisitorCookieName,
// admission.HeaderName), which backends share.
const (
	ticketPrefix = "foyer_ticket_"
	// ticketHeader carries the ticket for apps that keep no cookies.
	ticketHeader = "Foyer-Ticket"
	// maxCookieValue bounds every cookie value foyer reads.
	maxCookieValue = 4096
)

// newVisitorID returns a 128-bit random id, hex encoded.
func newVisitorID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the platform is broken; nothing sane to do
	}
	return hex.EncodeToString(b[:])
}

// cookieValue reads a bounded cookie; an oversized one counts as absent.
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > maxCookieValue {
		return ""
	}
	return c.Value
}

// Binding. The visitor cookie (HttpOnly) holds the visitor's secret; apps send it in the
// Foyer-Visitor-Secret header. Tickets and the token's sub carry only visitorID(secret), an
// opaque id, and the token's cnf only admission.Commitment(secret): nothing readable from a
// ticket or a token lets anyone else present the secret.

// visitorSecret returns the visitor's secret, header first, "" when absent or malformed.
func visitorSecret(r *http.Request) string {
	if h := r.Header.Get(admission.VisitorSecretHeader); h != "" {
		if admission.ValidVisitorSecret(h) {
			return h
		}
		return ""
	}
	if v := cookieValue(r, admission.VisitorCookieName); admission.ValidVisitorSecret(v) {
		return v
	}
	return ""
}

// visitorID is the opaque visitor id of a secret (hex of a domain-separated SHA-256,
// 128 bits): what tickets and the token's sub carry.
func visitorID(secret string) string {
	h := sha256.New()
	h.Write([]byte("foyer visitor id\x00"))
	h.Write([]byte(secret))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// visitorFrom returns the id of the request's visitor secret, "" when it carries none.
func visitorFrom(r *http.Request) string {
	if s := visitorSecret(r); s != "" {
		return visitorID(s)
	}
	return ""
}

// secureCookies reports whether cookies need the Secure flag: always, except on plain-HTTP
// loopback listeners used for development and tests.
func secureCookies(publicURL string) bool {
	if !strings.HasPrefix(publicURL, "http://") {
		return true
	}
	host := strings.TrimPrefix(publicURL, "http://")
	if i := strings.IndexAny(host, "/"); i >= 0 {
		host = host[:i]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}
