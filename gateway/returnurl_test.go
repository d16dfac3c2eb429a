package gateway

import (
	"bufio"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestReturnURLCorpusRefused(t *testing.T) {
	v, err := NewReturnURLValidator([]string{"https://tickets.example.org/"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/open-redirect-corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		if got, err := v.Validate(line); err == nil {
			t.Errorf("attack %q accepted as %q", line, got)
		}
	}
	if n < 40 {
		t.Fatalf("corpus too small: %d entries", n)
	}
}

// TestReturnURLPrefixCorpusRefused: dot segments, encoded dots and ";" parameters do not lead
// out of an allowed path prefix.
func TestReturnURLPrefixCorpusRefused(t *testing.T) {
	v, err := NewReturnURLValidator([]string{"https://tickets.example.org/app/"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/return-url-prefix-corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		if got, err := v.Validate(line); err == nil {
			t.Errorf("attack %q accepted as %q", line, got)
		}
	}
	if n < 15 {
		t.Fatalf("corpus too small: %d entries", n)
	}
	// Normalised inside the prefix is fine, and comes back normalised.
	for in, want := range map[string]string{
		"https://tickets.example.org/app/x/../seat":  "https://tickets.example.org/app/seat",
		"https://tickets.example.org/app/%2e/seat":   "https://tickets.example.org/app/seat",
		"https://tickets.example.org/app/a/..;/seat": "https://tickets.example.org/app/seat",
	} {
		if got, err := v.Validate(in); err != nil || got != want {
			t.Errorf("Validate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestRedirectCarriesToken: the token goes in the query, before any fragment, and replaces a
// foyer_token the return URL already carries.
func TestRedirectCarriesToken(t *testing.T) {
	rm := &room{cfg: RoomConfig{Name: testRoom}}
	for in, want := range map[string]string{
		"https://shop.example/book":                           "https://shop.example/book?foyer_token=TOK",
		"https://shop.example/book#seat":                      "https://shop.example/book?foyer_token=TOK#seat",
		"https://shop.example/book?foyer_token=PLANTED&a=1":   "https://shop.example/book?a=1&foyer_token=TOK",
		"https://shop.example/book?a=1&foyer_token=PLANTED#x": "https://shop.example/book?a=1&foyer_token=TOK#x",
	} {
		if got := (destination{returnURL: in}).redirect(rm, "TOK"); got != want {
			t.Errorf("redirect(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReturnURLAllowed(t *testing.T) {
	v, _ := NewReturnURLValidator([]string{"https://tickets.example.org/", "https://shop.example.org/festival"})
	tests := []struct{ in, want string }{
		{"https://tickets.example.org/", "https://tickets.example.org/"},
		{"https://tickets.example.org/seat?film=42&time=14:00", "https://tickets.example.org/seat?film=42&time=14:00"},
		{"https://TICKETS.example.org/seat", "https://tickets.example.org/seat"},
		{"https://shop.example.org/festival", "https://shop.example.org/festival"},
		{"https://shop.example.org/festival/day-1", "https://shop.example.org/festival/day-1"},
	}
	for _, tt := range tests {
		got, err := v.Validate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Validate(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"https://shop.example.org/festivalx", "https://shop.example.org/", "https://shop.example.org/other"} {
		if _, err := v.Validate(bad); err == nil {
			t.Errorf("Validate(%q) accepted a path outside the prefix", bad)
		}
	}
}

func TestLocalPath(t *testing.T) {
	good := map[string]string{"/book/": "/book/", "/book/film?id=3": "/book/film?id=3"}
	for in, want := range good {
		if got, ok := localPath(in); !ok || got != want {
			t.Errorf("localPath(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "//evil", "/\\evil", "https://evil/", "book", "/a\nb", "/\tx"} {
		if got, ok := localPath(in); ok {
			t.Errorf("localPath(%q) accepted as %q", in, got)
		}
	}
}

// FuzzReturnURL: whatever is accepted lies under the allowed origin and prefix.
func FuzzReturnURL(f *testing.F) {
	for _, s := range []string{"https://tickets.example.org/seat", "//evil", "https://tickets.example.org@evil/", "/\\x"} {
		f.Add(s)
	}
	v, _ := NewReturnURLValidator([]string{"https://tickets.example.org/app/"})
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := v.Validate(raw)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || u.Scheme != "https" || u.Host != "tickets.example.org" || u.User != nil ||
			!strings.HasPrefix(u.EscapedPath(), "/app/") && u.EscapedPath() != "/app" {
			t.Fatalf("accepted %q -> %q outside the allow-list", raw, got)
		}
		if p, ok := localPath(raw); ok && (strings.HasPrefix(p, "//") || !strings.HasPrefix(p, "/")) {
			t.Fatalf("localPath accepted %q as %q", raw, p)
		}
	})
}
