package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

func newSite(t *testing.T) *Site {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

var renderNow = time.Date(2026, 10, 1, 4, 58, 0, 0, time.UTC) // 13:58 KST

func baseQueueData(lang string) QueuePageData {
	return QueuePageData{
		Room: "biff-2026", DisplayName: "BIFF 2026", Lang: lang, TimeZone: "Asia/Seoul",
		HasTicket: true, Now: renderNow,
		Status: Status{
			State: "open", Place: 1234, Ahead: 1233, JoinedPlace: 1500,
			ETALow: 4 * time.Minute, ETAHigh: 6 * time.Minute, PollAfter: 5 * time.Second,
			OpensAt: renderNow.Add(2*time.Minute + 5*time.Second), UpdatedAt: renderNow,
		},
	}
}

func renderQueue(t *testing.T, s *Site, d QueuePageData) *html.Node {
	t.Helper()
	var buf bytes.Buffer
	if err := s.QueuePage(&buf, d); err != nil {
		t.Fatalf("QueuePage: %v", err)
	}
	assertNoRawKeys(t, buf.Bytes())
	return parseHTML(t, buf.Bytes())
}

// rawKey matches a catalogue key shown instead of its message.
var rawKey = regexp.MustCompile(`\b(?:q|qjs|err|d|djs)_[a-z_]+\b`)

func assertNoRawKeys(t *testing.T, page []byte) {
	t.Helper()
	doc := parseHTML(t, page)
	// Text only: the boot JSON legitimately holds keys.
	for _, n := range findAll(doc, func(n *html.Node) bool { return n.Data == "body" || n.Data == "title" }) {
		if k := rawKey.FindString(textOf(n)); k != "" {
			t.Errorf("page shows raw catalogue key %q", k)
		}
	}
}

// visiblePanel returns the id of the one shown .panel section.
func visiblePanel(t *testing.T, doc *html.Node) string {
	t.Helper()
	var ids []string
	for _, n := range findAll(doc, tag("section")) {
		if shown(n) {
			id, _ := attr(n, "id")
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want exactly one visible panel, got %v", ids)
	}
	return ids[0]
}

func TestQueuePageStates(t *testing.T) {
	s := newSite(t)
	type want struct {
		panel   string
		heading string // exact visible h1 text
		fields  map[string]string
		refresh string // noscript meta refresh content; "" = none
	}
	cases := []struct {
		name string
		lang string
		mod  func(*QueuePageData)
		want want
	}{
		{"open en", "en", nil, want{"p-wait", "You're in line", map[string]string{
			"place": "1,234", "ahead": "1,233", "eta": "about 4 to 6 minutes", "updated": "1:58:00 PM"}, "5"}},
		{"open ko", "ko", nil, want{"p-wait", "대기 중입니다", map[string]string{
			"place": "1,234", "ahead": "1,233", "eta": "약 4~6분", "updated": "오후 1:58:00"}, "5"}},
		{"prequeue en", "en", func(d *QueuePageData) { d.Status.State = "prequeue"; d.Status.Place = 0 },
			want{"p-pre", "You're in the pre-queue", map[string]string{
				"countdown": "00:02:05", "opens": "Thursday, October 1, 2026 at 2:00 PM"}, "5"}},
		{"prequeue ko", "ko", func(d *QueuePageData) { d.Status.State = "prequeue"; d.Status.Place = 0 },
			want{"p-pre", "사전 대기열에 들어오셨습니다", map[string]string{
				"countdown": "00:02:05", "opens": "2026년 10월 1일 목요일 오후 2:00"}, "5"}},
		{"scheduled en, days away", "en", func(d *QueuePageData) {
			d.Status.State = "scheduled"
			d.Status.OpensAt = renderNow.Add(50*time.Hour + 3*time.Second)
		}, want{"p-pre", "The sale has not opened yet", map[string]string{"countdown": "2 d 02:00:03"}, "5"}},
		{"scheduled ko", "ko", func(d *QueuePageData) { d.Status.State = "scheduled" },
			want{"p-pre", "아직 예매가 시작되지 않았습니다", nil, "5"}},
		{"paused en", "en", func(d *QueuePageData) { d.Status.State = "paused" },
			want{"p-paused", "The line is paused", map[string]string{"place": "1,234"}, "5"}},
		{"paused ko", "ko", func(d *QueuePageData) { d.Status.State = "paused" },
			want{"p-paused", "대기열이 잠시 멈췄습니다", nil, "5"}},
		{"closed en", "en", func(d *QueuePageData) { d.Status.State = "closed"; d.HomeURL = "https://biff.kr/" },
			want{"p-closed", "This sale is closed", nil, ""}},
		{"closed ko", "ko", func(d *QueuePageData) { d.Status.State = "closed" },
			want{"p-closed", "예매가 종료되었습니다", nil, ""}},
		{"turn en", "en", func(d *QueuePageData) { d.Status.Admitted = true; d.Status.Redirect = "/book?a=1&b=2" },
			want{"p-turn", "It's your turn", nil, "0;url=/book?a=1&b=2"}},
		{"turn ko", "ko", func(d *QueuePageData) { d.Status.Admitted = true; d.Status.Redirect = "https://tickets.example/b" },
			want{"p-turn", "입장하실 차례입니다", nil, "0;url=https://tickets.example/b"}},
		{"no ticket en", "en", func(d *QueuePageData) { d.HasTicket = false },
			want{"p-joining", "Getting your place in line…", nil, "5"}},
		{"no ticket ko", "ko", func(d *QueuePageData) { d.HasTicket = false },
			want{"p-joining", "대기 순번을 받는 중입니다…", nil, "5"}},
		{"reconnecting en", "en", func(d *QueuePageData) { d.Status.Reconnecting = true; d.Status.PollAfter = 20 * time.Second },
			want{"p-wait", "You're in line", map[string]string{"place": "1,234"}, "20"}},
		{"reconnecting ko", "ko", func(d *QueuePageData) { d.Status.Reconnecting = true },
			want{"p-wait", "대기 중입니다", nil, "5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := baseQueueData(tc.lang)
			if tc.mod != nil {
				tc.mod(&d)
			}
			doc := renderQueue(t, s, d)
			if l, _ := attr(findAll(doc, tag("html"))[0], "lang"); l != tc.lang {
				t.Errorf("html lang = %q, want %q", l, tc.lang)
			}
			p := visiblePanel(t, doc)
			if p != tc.want.panel {
				t.Fatalf("visible panel %s, want %s", p, tc.want.panel)
			}
			panel := byID(t, doc, p)
			if h := textOf(findAll(panel, tag("h1"))[0]); h != tc.want.heading {
				t.Errorf("heading %q, want %q", h, tc.want.heading)
			}
			for f, v := range tc.want.fields {
				els := findAll(doc, withAttr("data-f", f))
				if len(els) == 0 {
					t.Fatalf("no data-f=%s", f)
				}
				for _, el := range els {
					if got := textOf(el); got != v {
						t.Errorf("%s = %q, want %q", f, got, v)
					}
				}
			}
			rf, ok := noscriptRefresh(t, doc)
			if tc.want.refresh == "" && ok {
				t.Errorf("unexpected meta refresh %q", rf)
			}
			if tc.want.refresh != "" && rf != tc.want.refresh {
				t.Errorf("meta refresh %q, want %q", rf, tc.want.refresh)
			}
			recon := byID(t, doc, "recon")
			if shown(recon) != d.Status.Reconnecting {
				t.Errorf("reconnecting banner shown=%v, want %v", shown(recon), d.Status.Reconnecting)
			}
			live := byID(t, doc, "live")
			if v, _ := attr(live, "aria-live"); v != "polite" {
				t.Errorf("live region aria-live=%q", v)
			}
		})
	}
}

func TestQueuePageDetails(t *testing.T) {
	s := newSite(t)

	t.Run("progress from joined place to the front", func(t *testing.T) {
		doc := renderQueue(t, s, baseQueueData("en"))
		pr := byID(t, doc, "prog")
		if mx, _ := attr(pr, "max"); mx != "1499" {
			t.Errorf("progress max %s, want 1499", mx)
		}
		if v, _ := attr(pr, "value"); v != "266" {
			t.Errorf("progress value %s, want 266", v)
		}
		lbl := findAll(doc, withAttr("for", "prog"))
		if len(lbl) != 1 || textOf(lbl[0]) != "Your progress to the front" {
			t.Errorf("progress has no label")
		}
	})

	t.Run("turn button goes to redirect", func(t *testing.T) {
		d := baseQueueData("en")
		d.Status.Admitted, d.Status.Redirect = true, "/book/seat?id=7"
		doc := renderQueue(t, s, d)
		if h, _ := attr(byID(t, doc, "go"), "href"); h != "/book/seat?id=7" {
			t.Errorf("go href %q", h)
		}
	})

	t.Run("unsafe redirect is dropped", func(t *testing.T) {
		for _, bad := range []string{"javascript:alert(1)", "//evil.example/x", "data:text/html,x", "/\\evil", "https://user@evil.example/"} {
			d := baseQueueData("en")
			d.Status.Admitted, d.Status.Redirect = true, bad
			var buf bytes.Buffer
			if err := s.QueuePage(&buf, d); err != nil {
				t.Fatal(err)
			}
			doc := parseHTML(t, buf.Bytes())
			if h, _ := attr(byID(t, doc, "go"), "href"); h != "" {
				t.Errorf("redirect %q rendered as href %q", bad, h)
			}
			if rf, _ := noscriptRefresh(t, doc); strings.Contains(rf, "url=") {
				t.Errorf("redirect %q rendered in meta refresh %q", bad, rf)
			}
		}
	})

	t.Run("closed links home", func(t *testing.T) {
		d := baseQueueData("ko")
		d.Status.State, d.HomeURL = "closed", "https://biff.kr/"
		doc := renderQueue(t, s, d)
		links := findAll(byID(t, doc, "p-closed"), tag("a"))
		if len(links) != 1 || textOf(links[0]) != "BIFF 2026 홈으로 돌아가기" {
			t.Fatalf("closed panel links: %d", len(links))
		}
	})

	t.Run("fairness link in the pre-queue", func(t *testing.T) {
		d := baseQueueData("en")
		d.Status.State = "prequeue"
		doc := renderQueue(t, s, d)
		links := findAll(byID(t, doc, "p-pre"), withAttr("href", "/foyer/v1/rooms/biff-2026/fairness"))
		if len(links) != 1 {
			t.Fatal("no fairness link")
		}
	})

	t.Run("boot data for the script", func(t *testing.T) {
		d := baseQueueData("ko")
		d.Prefix = "/q/"
		d.HasTicket = false
		doc := renderQueue(t, s, d)
		var boot struct {
			Room, Lang, TZ, Zone, StatusURL, JoinURL string
			HasTicket                                bool
			Status                                   map[string]any
			Msgs                                     map[string]string
		}
		if err := json.Unmarshal([]byte(textOf(byID(t, doc, "boot"))), &boot); err != nil {
			t.Fatalf("boot json: %v", err)
		}
		if boot.StatusURL != "/q/v1/rooms/biff-2026/status" || boot.JoinURL != "/q/v1/rooms/biff-2026/join" {
			t.Errorf("urls %q %q", boot.StatusURL, boot.JoinURL)
		}
		if boot.TZ != "Asia/Seoul" || boot.Zone != "KST" || boot.Lang != "ko" || boot.HasTicket {
			t.Errorf("boot %+v", boot)
		}
		if boot.Status["place"] != 1234.0 || boot.Status["eta_seconds"].(map[string]any)["high"] != 360.0 {
			t.Errorf("status %v", boot.Status)
		}
		if boot.Msgs["eta_minutes_range"] != "약 {low}~{high}분" {
			t.Errorf("msgs %v", boot.Msgs)
		}
		for _, n := range findAll(doc, tag("script")) {
			if src, ok := attr(n, "src"); ok && !regexp.MustCompile(`^/q/static/queue\.[0-9a-f]{10}\.js$`).MatchString(src) {
				t.Errorf("script src %q not versioned under prefix", src)
			}
		}
	})

	t.Run("theme colours, and injection ignored", func(t *testing.T) {
		d := baseQueueData("en")
		d.Nonce = "n0nce"
		d.Theme = Theme{Accent: "#123456", Background: "red;}</style><script>alert(1)</script>", LogoURL: "javascript:alert(1)"}
		var buf bytes.Buffer
		if err := s.QueuePage(&buf, d); err != nil {
			t.Fatal(err)
		}
		doc := parseHTML(t, buf.Bytes())
		styles := findAll(doc, tag("style"))
		if len(styles) != 1 || textOf(styles[0]) != ":root{--accent:#123456;}" {
			t.Fatalf("theme style %q", textOf(styles[0]))
		}
		if n, _ := attr(styles[0], "nonce"); n != "n0nce" {
			t.Errorf("style nonce %q", n)
		}
		if len(findAll(doc, tag("img"))) != 0 {
			t.Error("unsafe logo rendered")
		}
		if got := len(findAll(doc, tag("script"))); got != 2 {
			t.Errorf("%d scripts, want 2 (boot + queue.js)", got)
		}
	})

	t.Run("language links", func(t *testing.T) {
		doc := renderQueue(t, s, baseQueueData("ko"))
		links := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-lang"); return ok })
		if len(links) != 2 {
			t.Fatalf("%d language links", len(links))
		}
		for _, a := range links {
			code, _ := attr(a, "data-lang")
			_, cur := attr(a, "aria-current")
			if cur != (code == "ko") {
				t.Errorf("link %s aria-current=%v", code, cur)
			}
			if h, _ := attr(a, "href"); h != "?foyer_lang="+code {
				t.Errorf("link href %q", h)
			}
		}
	})

	t.Run("unknown lang and zone fall back", func(t *testing.T) {
		d := baseQueueData("fr")
		d.TimeZone = "Mars/Olympus"
		doc := renderQueue(t, s, d)
		if l, _ := attr(findAll(doc, tag("html"))[0], "lang"); l != "en" {
			t.Errorf("lang %q", l)
		}
		if got := textOf(findAll(doc, withAttr("data-f", "updated"))[0]); got != "4:58:00 AM" {
			t.Errorf("updated %q, want UTC clock", got)
		}
	})
}

func TestServeQueuePageHeaders(t *testing.T) {
	s := newSite(t)
	rec := httptest.NewRecorder()
	if err := s.ServeQueuePage(rec, 200, baseQueueData("en")); err != nil {
		t.Fatal(err)
	}
	h := rec.Header()
	if h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("headers %v", h)
	}
	csp := h.Get("Content-Security-Policy")
	m := regexp.MustCompile(`'nonce-([A-Za-z0-9_-]+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("csp %q", csp)
	}
	doc := parseHTML(t, rec.Body.Bytes())
	// no theme set: no inline style needed at all
	if n := len(findAll(doc, tag("style"))); n != 0 {
		t.Errorf("%d inline styles without a theme", n)
	}
}

func TestErrorPage(t *testing.T) {
	s := newSite(t)
	cases := []struct {
		lang, code string
		status     int
		heading    string
	}{
		{"en", "", 400, "Something is wrong with this request"},
		{"ko", "", 400, "요청에 문제가 있습니다"},
		{"en", "", 404, "Page not found"},
		{"ko", "", 404, "페이지를 찾을 수 없습니다"},
		{"en", "", 429, "Too many requests"},
		{"ko", "", 429, "요청이 너무 많습니다"},
		{"en", "", 502, "The booking site is not responding"},
		{"ko", "backend_unavailable", 503, "예매 사이트가 응답하지 않습니다"},
		{"en", "", 503, "The waiting room is having trouble"},
		{"ko", "unavailable", 503, "대기실에 문제가 생겼습니다"},
		{"en", "", 500, "Something went wrong"},
		{"ko", "nonsense", 500, "문제가 발생했습니다"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.lang, " ", tc.code, " ", tc.status), func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := s.ServeErrorPage(rec, 0, ErrorPageData{Lang: tc.lang, Status: tc.status, Code: tc.code,
				RetryAfter: 30 * time.Second, RequestID: "req-42", DisplayName: "BIFF"})
			if err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || rec.Header().Get("Retry-After") != "30" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("code %d headers %v", rec.Code, rec.Header())
			}
			assertNoRawKeys(t, rec.Body.Bytes())
			doc := parseHTML(t, rec.Body.Bytes())
			if h := textOf(byID(t, doc, "h-err")); h != tc.heading {
				t.Errorf("heading %q, want %q", h, tc.heading)
			}
			body := textOf(findAll(doc, tag("main"))[0])
			if !strings.Contains(body, "req-42") || !strings.Contains(body, "30") {
				t.Errorf("main %q lacks reference or retry seconds", body)
			}
			metas := findAll(doc, withAttr("http-equiv", "refresh"))
			if len(metas) != 1 {
				t.Fatalf("want a meta refresh")
			}
			if c, _ := attr(metas[0], "content"); c < "30" || c > "45" || len(c) != 2 {
				t.Errorf("refresh %q, want 30 to 45 (Retry-After and up to half again)", c)
			}
			// Words only: the status code is for logs, never for the visitor.
			if strings.Contains(body, fmt.Sprint(tc.status)) || strings.Contains(strings.ToLower(body), "error") || strings.Contains(body, "오류") {
				t.Errorf("main shows a status code: %q", body)
			}
		})
	}
}

func TestDashboardPage(t *testing.T) {
	s := newSite(t)
	for _, tc := range []struct{ lang, signin, controls string }{
		{"en", "Sign in", "Controls"},
		{"ko", "로그인", "설정"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := s.ServeDashboard(rec, DashboardData{Lang: tc.lang}); err != nil {
				t.Fatal(err)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("cache %q", rec.Header().Get("Cache-Control"))
			}
			assertNoRawKeys(t, rec.Body.Bytes())
			doc := parseHTML(t, rec.Body.Bytes())
			if h := textOf(byID(t, doc, "h-signin")); h != tc.signin {
				t.Errorf("sign-in heading %q", h)
			}
			if h := textOf(byID(t, doc, "h-controls")); h != tc.controls {
				t.Errorf("controls heading %q", h)
			}
			tok := byID(t, doc, "token")
			if ty, _ := attr(tok, "type"); ty != "password" {
				t.Errorf("token input type %q", ty)
			}
			// Every control input has a label and an error slot it points at.
			for _, f := range []string{"rate_per_minute", "max_active", "session_seconds", "opens_at"} {
				in := byID(t, doc, "f-"+f)
				if len(findAll(doc, withAttr("for", "f-"+f))) != 1 {
					t.Errorf("%s has no label", f)
				}
				if db, _ := attr(in, "aria-describedby"); db != "e-"+f {
					t.Errorf("%s describedby %q", f, db)
				}
				byID(t, doc, "e-"+f)
			}
			if n := len(findAll(doc, tag("svg"))); n != 9 {
				t.Errorf("%d charts, want 9 (with refused joins, proof-of-work and the outcomes over time)", n)
			}
			// the history panel: its script, its window switch
			if len(findAll(doc, withAttr("data-window", "sale"))) != 1 || len(findAll(doc, func(n *html.Node) bool {
				src, _ := attr(n, "src")
				return n.Data == "script" && strings.Contains(src, "/dash-history.")
			})) != 1 {
				t.Error("no history window switch or no dash-history.js")
			}
			// the panels in their own files load after dash.js, versioned like it
			var panels []string
			for _, sc := range findAll(doc, tag("script")) {
				if src, ok := attr(sc, "src"); ok && strings.Contains(src, "/dash-") {
					panels = append(panels, src)
				}
			}
			want := []string{"history", "forecast", "outcomes", "feedback", "rooms"}
			bad := len(panels) != len(want)
			for i := 0; !bad && i < len(want); i++ {
				bad = !strings.HasPrefix(panels[i], "/foyer/static/dash-"+want[i]+".")
			}
			if bad {
				t.Errorf("panel scripts %q", panels)
			}
			byID(t, doc, "forecast")
			byID(t, doc, "ch-outcomes")
			byID(t, doc, "rm-panel")
			var boot struct {
				API  string
				Msgs map[string]string
			}
			if err := json.Unmarshal([]byte(textOf(byID(t, doc, "boot"))), &boot); err != nil {
				t.Fatal(err)
			}
			if boot.API != "/foyer/admin/v1" || boot.Msgs["confirm_state"] == "" {
				t.Errorf("boot %+v", boot)
			}
		})
	}
}

func TestQueuePageRoomTexts(t *testing.T) {
	s := newSite(t)
	names := map[string]string{"ko": "2026 부산국제영화제", "en": "Busan Film Festival 2026"}
	texts := map[string]map[string]string{"ko": {"q_closed_body": "모두 팔렸습니다.", "qjs_near_title": "곧 차례!"}}
	for _, tc := range []struct{ lang, name, closed string }{
		{"ko", "2026 부산국제영화제", "모두 팔렸습니다."},
		{"en", "Busan Film Festival 2026", "The sale has ended or is sold out. Check the organiser's website for news."},
	} {
		d := baseQueueData(tc.lang)
		d.DisplayNames, d.Texts = names, texts
		d.Status.State = "closed"
		doc := renderQueue(t, s, d)
		if got := textOf(findAll(doc, withAttr("class", "brand"))[0]); got != tc.name {
			t.Errorf("%s: heading %q, want %q", tc.lang, got, tc.name)
		}
		if got := textOf(findAll(doc, tag("title"))[0]); !strings.HasSuffix(got, " · "+tc.name) {
			t.Errorf("%s: title %q", tc.lang, got)
		}
		if got := textOf(findAll(byID(t, doc, "p-closed"), tag("p"))[0]); got != tc.closed {
			t.Errorf("%s: closed body %q, want %q", tc.lang, got, tc.closed)
		}
		var boot struct{ Msgs map[string]string }
		if err := json.Unmarshal([]byte(textOf(byID(t, doc, "boot"))), &boot); err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"ko": "곧 차례!", "en": "Almost your turn!"}[tc.lang]; boot.Msgs["near_title"] != want {
			t.Errorf("%s: script message %q, want %q", tc.lang, boot.Msgs["near_title"], want)
		}
	}
	// A name missing for the language falls back to display_name.
	d := baseQueueData("ko")
	d.DisplayNames = map[string]string{"en": "English only"}
	if got := textOf(findAll(renderQueue(t, s, d), withAttr("class", "brand"))[0]); got != "BIFF 2026" {
		t.Errorf("fallback heading %q", got)
	}
	if probs := CheckRoomTexts(names, texts); len(probs) != 0 {
		t.Errorf("good texts refused: %v", probs)
	}
}

func TestQueuePageStalledReturningSoldOut(t *testing.T) {
	s := newSite(t)
	for _, lang := range Langs() {
		c := s.catalogs[lang]
		d := baseQueueData(lang)
		d.Status.Stalled, d.Status.Returning = "sessions", true
		doc := renderQueue(t, s, d)
		if got := textOf(findAll(byID(t, doc, "p-wait"), withAttr("data-f", "eta"))[0]); got != c.text("qjs_stalled_eta") {
			t.Errorf("%s: stalled eta %q", lang, got)
		}
		for _, id := range []string{"stalled", "returning"} {
			if !shown(byID(t, doc, id)) {
				t.Errorf("%s: #%s hidden", lang, id)
			}
		}
		d.Status.Stalled = "paused"
		if p := visiblePanel(t, renderQueue(t, s, d)); p != "p-paused" {
			t.Errorf("%s: stalled paused shows %s", lang, p)
		}
		d.Status.State = "sold_out"
		doc = renderQueue(t, s, d)
		if p := visiblePanel(t, doc); p != "p-soldout" {
			t.Errorf("%s: sold out shows %s", lang, p)
		}
		if len(findAll(doc, withAttr("http-equiv", "refresh"))) != 0 {
			t.Errorf("%s: sold out page reloads itself", lang)
		}
	}
}

// TestServeDashboardGzip: a client that accepts gzip gets the dashboard compressed (what
// TestDashboardBudget counts), the same page once decompressed; others get it plain.
func TestServeDashboardGzip(t *testing.T) {
	s := newSite(t)
	plain := httptest.NewRecorder()
	if err := s.ServeDashboard(plain, DashboardData{Lang: "ko", Nonce: "n1"}); err != nil {
		t.Fatal(err)
	}
	if ce := plain.Header().Get("Content-Encoding"); ce != "" {
		t.Errorf("plain: Content-Encoding %q", ce)
	}
	rec := httptest.NewRecorder()
	if err := s.ServeDashboard(rec, DashboardData{Lang: "ko", Nonce: "n1", Gzip: true}); err != nil {
		t.Fatal(err)
	}
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("headers %v", rec.Header())
	}
	if cl := rec.Header().Get("Content-Length"); cl != fmt.Sprint(rec.Body.Len()) {
		t.Errorf("Content-Length %s, body %d", cl, rec.Body.Len())
	}
	z, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain.Body.Bytes()) {
		t.Error("the gzipped dashboard is not the plain one")
	}
	if len(got) < 2*rec.Body.Len() {
		t.Errorf("gzip %d of %d bytes", rec.Body.Len(), len(got))
	}
}
