package admission

import (
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, clean, match string
		ok               bool
	}{
		{"/", "/", "/", true},
		{"/book/", "/book/", "/book/", true},
		{"/book/film", "/book/film", "/book/film", true},
		{"/a/../b/", "/b/", "/b/", true},
		{"/a/./b", "/a/b", "/a/b", true},
		{"/a//b", "/a/b", "/a/b", true},
		{"//evil.example/x", "/evil.example/x", "/evil.example/x", true},
		{"/a/..;/b/", "/b/", "/b/", true},
		{"/a/..;jsessionid=1/b", "/b", "/b", true},
		{"/a;x=1/b", "/a;x=1/b", "/a/b", true},
		{"/a/b/..", "/a/", "/a/", true},
		{"/a/.", "/a/", "/a/", true},
		{"/a/...", "/a/...", "/a/...", true},
		{"/a/.hidden", "/a/.hidden", "/a/.hidden", true},
		{"/..", "", "", false},
		{"/a/../../b", "", "", false},
		{"/..;/b", "", "", false},
		{"", "", "", false},
		{"a/b", "", "", false},
		{"/a\\b", "", "", false},
		{"/a/%2e%2e/b", "", "", false}, // still encoded after one decoding: a double encoding
		{"/a/%2F/b", "", "", false},
		{"/a/%5c/b", "", "", false},
		{"/a\x00b", "", "", false},
		{"/a\nb", "", "", false},
	}
	for _, tt := range tests {
		clean, match, ok := CleanPath(tt.in)
		if ok != tt.ok || clean != tt.clean || match != tt.match {
			t.Errorf("CleanPath(%q) = %q, %q, %v; want %q, %q, %v", tt.in, clean, match, ok, tt.clean, tt.match, tt.ok)
		}
	}
}

func TestHandoffURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://shop.example/book", "https://shop.example/book?foyer_token=T"},
		{"https://shop.example/book?seat=1", "https://shop.example/book?seat=1&foyer_token=T"},
		{"https://shop.example/book#seats", "https://shop.example/book?foyer_token=T#seats"},
		{"https://shop.example/book?seat=1#seats", "https://shop.example/book?seat=1&foyer_token=T#seats"},
		{"https://shop.example/book?foyer_token=PLANTED&seat=1", "https://shop.example/book?seat=1&foyer_token=T"},
		{"https://shop.example/book?foyer%5Ftoken=PLANTED", "https://shop.example/book?foyer_token=T"},
		{"https://shop.example/book?", "https://shop.example/book?foyer_token=T"},
	}
	for _, tt := range tests {
		got, err := HandoffURL(tt.in, "T")
		if err != nil || got != tt.want {
			t.Errorf("HandoffURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for _, tt := range []struct{ path, query, want string }{
		{"/book", "", "/book"},
		{"/book", "a=1", "/book?a=1"},
		{"/a/../book", "", "/book"},
		{"/bo ok", "", "/bo%20ok"},
	} {
		if got, ok := LocalPath(tt.path, tt.query); !ok || got != tt.want {
			t.Errorf("LocalPath(%q, %q) = %q, %v; want %q", tt.path, tt.query, got, ok, tt.want)
		}
	}
	for _, p := range []string{"//evil.example/x", "/\\evil.example", "evil", "", "/../x"} {
		if got, ok := LocalPath(p, ""); ok {
			t.Errorf("LocalPath(%q) accepted as %q", p, got)
		}
	}
}

// FuzzCleanPath: a cleaned path is absolute, starts with one slash, holds no dot segment and
// no empty segment, cleaning it again changes nothing, and match is clean without parameters.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b/", "/a/..;/b", "//x", "/a;p/b", "/%2e%2e/", "/a/./b/.", "/..", "/a\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		clean, match, ok := CleanPath(p)
		if !ok {
			return
		}
		if !strings.HasPrefix(clean, "/") || strings.HasPrefix(clean, "//") || strings.Contains(clean, "\\") {
			t.Fatalf("CleanPath(%q) = %q", p, clean)
		}
		for _, seg := range strings.Split(strings.Trim(match, "/"), "/") {
			if seg == "." || seg == ".." || seg == "" && match != "/" {
				t.Fatalf("CleanPath(%q) match %q keeps segment %q", p, match, seg)
			}
		}
		c2, m2, ok2 := CleanPath(clean)
		if !ok2 || c2 != clean || m2 != match {
			t.Fatalf("CleanPath not idempotent: %q -> %q -> %q (%v)", p, clean, c2, ok2)
		}
		if lp, ok := LocalPath(p, ""); ok && (strings.HasPrefix(lp, "//") || !strings.HasPrefix(lp, "/")) {
			t.Fatalf("LocalPath(%q) = %q", p, lp)
		}
	})
}
