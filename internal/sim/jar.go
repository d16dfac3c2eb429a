package sim

import (
	"net/http"
	"strings"
)

// jar is a visitor's cookies for the one site the simulator talks to: what a browser would
// send, without the cost of net/http/cookiejar for each of 100,000 visitors. It honours names,
// paths and deletion (Max-Age < 0); expiry times are left to the server, as runs are short.
// It is not safe for concurrent use: the visitor's lock guards it.
type jar struct {
	c []jarCookie
}

type jarCookie struct{ name, value, path string }

// header is the Cookie header for a request to path, or "".
func (j *jar) header(path string) string {
	var b strings.Builder
	for _, c := range j.c {
		if !pathMatch(path, c.path) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.name)
		b.WriteByte('=')
		b.WriteString(c.value)
	}
	return b.String()
}

// update stores the Set-Cookie headers of resp.
func (j *jar) update(h http.Header) {
	if len(h["Set-Cookie"]) == 0 {
		return
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		path := c.Path
		if path == "" {
			path = "/"
		}
		i := j.find(c.Name, path)
		switch {
		case c.MaxAge < 0 || (c.Value == "" && c.MaxAge == 0 && !c.Expires.IsZero()):
			if i >= 0 {
				j.c = append(j.c[:i], j.c[i+1:]...)
			}
		case i >= 0:
			j.c[i].value = c.Value
		default:
			j.c = append(j.c, jarCookie{c.Name, c.Value, path})
		}
	}
}

// get returns the value of the cookie called name, or "".
func (j *jar) get(name string) string {
	for _, c := range j.c {
		if c.name == name {
			return c.value
		}
	}
	return ""
}

func (j *jar) find(name, path string) int {
	for i, c := range j.c {
		if c.name == name && c.path == path {
			return i
		}
	}
	return -1
}

// pathMatch is RFC 6265's path-match.
func pathMatch(reqPath, cookiePath string) bool {
	if cookiePath == "/" || reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}
