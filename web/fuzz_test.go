package web

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzNegotiateLang(f *testing.F) {
	for _, s := range []string{"", "ko-KR,ko;q=0.9,en;q=0.8", "en;q=0.2, ko;q=0.8", ";;,,q=", "ko;q=NaN", "*"} {
		f.Add(s, "")
		f.Add(s, "ko")
	}
	f.Fuzz(func(t *testing.T, accept, cookie string) {
		got := NegotiateLang(accept, cookie)
		if got != LangEnglish && got != LangKorean {
			t.Fatalf("NegotiateLang(%q, %q) = %q", accept, cookie, got)
		}
		if c, ok := supported(cookie); ok && got != c {
			t.Fatalf("a supported cookie %q must win, got %q", cookie, got)
		}
	})
}

func FuzzSafeURL(f *testing.F) {
	for _, s := range []string{"/book?x=1", "https://a.example/b", "//evil.example", "javascript:alert(1)", "/\\evil",
		"http://u:p@evil.example/", "HTTPS://A.EXAMPLE/", " /x", "data:text/html,hi", "/%2f%2fevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		for _, allowHTTP := range []bool{false, true} {
			got := safeURL(u, allowHTTP)
			if got == "" {
				continue
			}
			if got != u {
				t.Fatalf("safeURL changed %q to %q", u, got)
			}
			p, err := url.Parse(got)
			if err != nil {
				t.Fatalf("accepted unparsable %q", got)
			}
			switch {
			case p.Scheme == "" && p.Host == "":
				if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
					t.Fatalf("accepted relative %q", got)
				}
			case p.Scheme == "https" || (allowHTTP && p.Scheme == "http"):
				if p.Host == "" || p.User != nil {
					t.Fatalf("accepted %q", got)
				}
			default:
				t.Fatalf("accepted scheme %q in %q", p.Scheme, got)
			}
			if strings.ContainsAny(got, "\\\r\n\t") {
				t.Fatalf("accepted control characters in %q", got)
			}
		}
	})
}
