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
