package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// rawGet sends a request target exactly as written (no client-side cleaning or escaping).
func rawGet(t *testing.T, h *harness, target string, cookies []*http.Cookie) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(h.srv.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var cs []string
	for _, c := range cookies {
		cs = append(cs, c.Name+"="+c.Value)
	}
	req := "GET " + target + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(h.srv.URL, "http://") +
		"\r\nAccept: text/plain\r\nConnection: close\r\nCookie: " + strings.Join(cs, "; ") + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPathEscapeRefused: with an admission for room A, no request target under /a/ that
// normalises into room B (or above the root) reaches a backend; plain paths under /a/ still
// do, normalised.
func TestPathEscapeRefused(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		a := defaultRoom(b)
		a.Name, a.Paths, a.QueueAll = "room-a", []string{"/a/"}, false
		bb := defaultRoom(b)
		bb.Name, bb.Paths, bb.QueueAll = "room-b", []string{"/b/"}, false
		bb.RatePerMinute, bb.MaxActive = 1, 1
		return []RoomConfig{a, bb}
	}})
	v := h.visitor()
	if resp, body := v.do(http.MethodGet, "/a/", "text/plain", nil, nil); resp.StatusCode != 200 || !strings.HasPrefix(string(body), "backend:/a/") {
		t.Fatalf("not let into room A: %d %s", resp.StatusCode, body)
	}
	var jar []*http.Cookie
	for _, name := range []string{admission.CookieNameFor("room-a"), admission.VisitorCookieName} {
		if val := v.cookie(name); val != "" {
			jar = append(jar, &http.Cookie{Name: name, Value: val})
		} else {
			t.Fatalf("no %s cookie", name)
		}
	}
	// Fill room B so that nobody passes through it on their own merit.
	if code, _ := rawGet(t, h, "/b/", nil); code != 200 {
		t.Fatalf("room B first visitor: %d", code)
	}
	f, err := os.Open("testdata/path-escape-corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		target := strings.TrimSpace(sc.Text())
		if target == "" || strings.HasPrefix(target, "#") {
			continue
		}
		n++
		code, body := rawGet(t, h, target, jar)
		if strings.HasPrefix(body, "backend:") && !strings.HasPrefix(body, "backend:/a/") {
			t.Errorf("%s reached the backend as %q (status %d)", target, body, code)
		}
		if strings.HasPrefix(body, "backend:/a/") && strings.Contains(body, "..") {
			t.Errorf("%s proxied unnormalised: %q", target, body)
		}
	}
	if n < 20 {
		t.Fatalf("corpus too small: %d", n)
	}
	// Normalisation inside the room is fine, and the backend sees the normalised path.
	for target, want := range map[string]string{"/a/x/../y": "backend:/a/y", "/a/./z": "backend:/a/z", "/a//w": "backend:/a/w"} {
		if code, body := rawGet(t, h, target, jar); code != 200 || !strings.HasPrefix(body, want+" ") {
			t.Errorf("%s: %d %q, want %q", target, code, body, want)
		}
	}
}

// TestAdmissionCookiePerRoom: an admission to room B does not evict room A's.
func TestAdmissionCookiePerRoom(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		a := defaultRoom(b)
		a.Name, a.Paths, a.QueueAll = "room-a", []string{"/a/"}, false
		bb := defaultRoom(b)
		bb.Name, bb.Paths, bb.QueueAll = "room-b", []string{"/b/"}, false
		return []RoomConfig{a, bb}
	}})
	v := h.visitor()
	for _, p := range []string{"/a/", "/b/", "/a/again", "/b/again"} {
		if resp, body := v.do(http.MethodGet, p, "text/plain", nil, nil); resp.StatusCode != 200 || !strings.HasPrefix(string(body), "backend:"+p) {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	if h.hits.Load() != 4 {
		t.Fatalf("backend hits %d, want 4", h.hits.Load())
	}
	a, b := v.cookie(admission.CookieNameFor("room-a")), v.cookie(admission.CookieNameFor("room-b"))
	if a == "" || b == "" || a == b {
		t.Fatalf("admission cookies: a=%d bytes b=%d bytes", len(a), len(b))
	}
}
