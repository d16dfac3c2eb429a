package web

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNegotiateLang(t *testing.T) {
	cases := []struct{ accept, cookie, want string }{
		{"", "", "en"},
		{"ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "", "ko"},
		{"en-US,en;q=0.9,ko;q=0.8", "", "en"},
		{"fr-FR,fr;q=0.9,ko;q=0.5,en;q=0.4", "", "ko"},
		{"en;q=0.2, ko;q=0.8", "", "ko"},
		{"ko;q=0, en;q=0.1", "", "en"},
		{"ja, zh", "", "en"},
		{"ko_KR", "", "ko"},
		{"KO", "", "ko"},
		{"ko;q=abc, en;q=0.5", "", "en"},
		{"ko;q=2, en;q=0.5", "", "en"},
		{"ko", "en", "en"},
		{"en", "ko", "ko"},
		{"en", "de", "en"},
		{"ko", "", "ko"},
		{strings.Repeat("x,", 1000) + "ko", "", "en"}, // beyond the bound: ignored
		{",;,;q=,", "", "en"},
	}
	for _, tc := range cases {
		if got := NegotiateLang(tc.accept, tc.cookie); got != tc.want {
			t.Errorf("NegotiateLang(%.40q, %q) = %q, want %q", tc.accept, tc.cookie, got, tc.want)
		}
	}
}

func TestRequestLang(t *testing.T) {
	r := httptest.NewRequest("GET", "/book?foyer_lang=ko", nil)
	r.Header.Set("Accept-Language", "en")
	r.AddCookie(LangCookie("en", false))
	if got := RequestLang(r); got != "ko" {
		t.Errorf("query should win, got %q", got)
	}
	r = httptest.NewRequest("GET", "/book", nil)
	r.Header.Set("Accept-Language", "en")
	r.AddCookie(LangCookie("ko", false))
	if got := RequestLang(r); got != "ko" {
		t.Errorf("cookie should beat Accept-Language, got %q", got)
	}
	r = httptest.NewRequest("GET", "/book?foyer_lang=xx", nil)
	r.Header.Set("Accept-Language", "ko-KR")
	if got := RequestLang(r); got != "ko" {
		t.Errorf("bad query falls back to the header, got %q", got)
	}
	c := LangCookie("zz", true)
	if c.Value != "en" || !c.Secure || c.Name != "foyer_lang" || c.Path != "/" || c.MaxAge <= 0 {
		t.Errorf("cookie %+v", c)
	}
}

func TestCatalogText(t *testing.T) {
	c := catalog{"a": "{x} and {y}", "b": "plain"}
	if got := c.text("a", "x", "1", "y", "2"); got != "1 and 2" {
		t.Errorf("got %q", got)
	}
	if got := c.text("missing"); got != "missing" {
		t.Errorf("missing key shows %q", got)
	}
	if got := c.text("b", "odd"); got != "plain" {
		t.Errorf("odd args: %q", got)
	}
}

func TestOverrideDir(t *testing.T) {
	write := func(t *testing.T, dir, name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("messages, static and templates", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "i18n/en.json", `{"q_wait_title": "Hang tight"}`)
		write(t, dir, "static/logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"/>`)
		write(t, dir, "static/foyer.css", `body{color:red}`)
		s, err := New(Config{OverrideDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		doc := renderQueue(t, s, baseQueueData("en"))
		if h := textOf(byID(t, doc, "h-wait")); h != "Hang tight" {
			t.Errorf("override message not used: %q", h)
		}
		if b, ok := s.Asset("foyer.css"); !ok || string(b) != "body{color:red}" {
			t.Errorf("override css not used")
		}
		if _, ok := s.Asset("logo.svg"); !ok {
			t.Errorf("extra static file not served")
		}
		// Korean keeps its own text.
		doc = renderQueue(t, s, baseQueueData("ko"))
		if h := textOf(byID(t, doc, "h-wait")); h != "대기 중입니다" {
			t.Errorf("ko changed: %q", h)
		}

		write(t, dir, "templates/error.html", `{{define "x"}}{{end}}<p id="custom">{{.Heading}}</p>`)
		s, err = New(Config{OverrideDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := s.ErrorPage(&b, ErrorPageData{Status: 404}); err != nil {
			t.Fatal(err)
		}
		if b.String() != `<p id="custom">Page not found</p>` {
			t.Errorf("override template: %q", b.String())
		}
	})
	t.Run("errors", func(t *testing.T) {
		cases := map[string][2]string{
			"unknown key":  {"i18n/ko.json", `{"q_wait_titel": "x"}`},
			"bad json":     {"i18n/en.json", `{`},
			"bad template": {"templates/queue.html", `{{if}}`},
		}
		for name, f := range cases {
			dir := t.TempDir()
			write(t, dir, f[0], f[1])
			if _, err := New(Config{OverrideDir: dir}); err == nil {
				t.Errorf("%s: New accepted it", name)
			}
		}
		if _, err := New(Config{OverrideDir: filepath.Join(t.TempDir(), "nope")}); err == nil {
			t.Error("missing override dir accepted")
		}
	})
}

func TestCataloguesComplete(t *testing.T) {
	s := newSite(t)
	for _, l := range Langs() {
		for k, v := range s.catalogs[l] {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %s is empty", l, k)
			}
		}
	}
	// Placeholders agree across languages.
	ph := func(s string) string {
		var out []string
		for _, m := range strings.Split(s, "{")[1:] {
			out = append(out, strings.SplitN(m, "}", 2)[0])
		}
		return strings.Join(sortedCopy(out), ",")
	}
	for k, en := range s.catalogs[LangEnglish] {
		if ko := s.catalogs[LangKorean][k]; ph(en) != ph(ko) {
			t.Errorf("%s: placeholders differ: en %q ko %q", k, ph(en), ph(ko))
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
