package web

import (
	"testing"
	"time"
)

func TestFormatInt(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4321: "-4,321"} {
		if got := formatInt(n); got != want {
			t.Errorf("formatInt(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatETA(t *testing.T) {
	s := newSite(t)
	en, ko := s.catalogs[LangEnglish], s.catalogs[LangKorean]
	cases := []struct {
		lo, hi time.Duration
		en, ko string
	}{
		{0, 0, "shown once the line moves", "줄이 움직이면 알려 드립니다"},
		{10 * time.Second, 50 * time.Second, "less than a minute", "1분 이내"},
		{30 * time.Second, 61 * time.Second, "about 1 to 2 minutes", "약 1~2분"},
		{60 * time.Second, 60 * time.Second, "about 1 minute", "약 1분"},
		{4 * time.Minute, 6 * time.Minute, "about 4 to 6 minutes", "약 4~6분"},
		{4*time.Minute + 50*time.Second, 5*time.Minute + 10*time.Second, "about 4 to 6 minutes", "약 4~6분"},
		{5 * time.Minute, 5 * time.Minute, "about 5 minutes", "약 5분"},
		{6 * time.Minute, 4 * time.Minute, "about 4 to 6 minutes", "약 4~6분"}, // swapped
		{90 * time.Minute, 119 * time.Minute, "about 90 to 119 minutes", "약 90~119분"},
		{100 * time.Minute, 150 * time.Minute, "about 1 to 3 hours", "약 1~3시간"},
		{3 * time.Hour, 3 * time.Hour, "about 3 hours", "약 3시간"},
		{30 * time.Minute, 2 * time.Hour, "about 1 to 2 hours", "약 1~2시간"},
	}
	for _, tc := range cases {
		if got := formatETA(en, tc.lo, tc.hi); got != tc.en {
			t.Errorf("en %v-%v = %q, want %q", tc.lo, tc.hi, got, tc.en)
		}
		if got := formatETA(ko, tc.lo, tc.hi); got != tc.ko {
			t.Errorf("ko %v-%v = %q, want %q", tc.lo, tc.hi, got, tc.ko)
		}
	}
}

func TestFormatTimes(t *testing.T) {
	seoul, _ := location("Asia/Seoul")
	at := time.Date(2026, 10, 1, 14, 0, 0, 0, seoul)
	if got := formatDateTime(LangEnglish, at); got != "Thursday, October 1, 2026 at 2:00 PM" {
		t.Errorf("en %q", got)
	}
	if got := formatDateTime(LangKorean, at); got != "2026년 10월 1일 목요일 오후 2:00" {
		t.Errorf("ko %q", got)
	}
	morning := time.Date(2026, 10, 1, 9, 5, 7, 0, seoul)
	if got := formatClock(LangKorean, morning); got != "오전 9:05:07" {
		t.Errorf("ko clock %q", got)
	}
	if got := formatClock(LangEnglish, morning); got != "9:05:07 AM" {
		t.Errorf("en clock %q", got)
	}
	if got := zoneLabel(at); got != "KST" {
		t.Errorf("zone %q", got)
	}
	s := newSite(t)
	for d, want := range map[time.Duration]string{
		-time.Second: "00:00:00", 1500 * time.Millisecond: "00:00:02", 3723 * time.Second: "01:02:03",
		26 * time.Hour: "1 d 02:00:00",
	} {
		if got := formatCountdown(s.catalogs[LangEnglish], d); got != want {
			t.Errorf("countdown %v = %q, want %q", d, got, want)
		}
	}
	if got := formatCountdown(s.catalogs[LangKorean], 50*time.Hour); got != "2일 02:00:00" {
		t.Errorf("ko countdown %q", got)
	}
}

func TestProgress(t *testing.T) {
	cases := []struct{ joined, place, done, total int64 }{
		{1500, 1234, 266, 1499},
		{1500, 1, 1499, 1499},
		{1, 1, 1, 1},
		{0, 5, 0, 4},    // unknown joined place: starts at the current one
		{10, 20, 0, 19}, // place above joined (should not happen): no negative progress
		{10, 0, 9, 9},
	}
	for _, tc := range cases {
		d, tot := progress(tc.joined, tc.place)
		if d != tc.done || tot != tc.total {
			t.Errorf("progress(%d,%d) = %d/%d, want %d/%d", tc.joined, tc.place, d, tot, tc.done, tc.total)
		}
	}
}

func TestThemeCheck(t *testing.T) {
	if err := (Theme{}).Check(); err != nil {
		t.Errorf("default theme: %v", err)
	}
	if err := (Theme{Accent: "#0a3d62", Background: "#ffffff", Text: "#111", LogoURL: "/foyer/static/logo.svg"}).Check(); err != nil {
		t.Errorf("good theme: %v", err)
	}
	for _, th := range []Theme{
		{Accent: "#ffdd00"}, // yellow links on off-white
		{Text: "#999", Background: "#fff"},
		{Accent: "blue"},
		{LogoURL: "http://cdn.example/logo.png"},
	} {
		if err := th.Check(); err == nil {
			t.Errorf("theme %+v passed", th)
		}
	}
}
