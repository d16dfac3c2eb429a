package web

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// The Go-side formatting below matches what the page's script produces with
// Intl (en-US and ko-KR conventions), so the server render and the live
// updates read the same.

// formatInt groups digits by thousands; English and Korean both use commas.
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := false
	if n < 0 {
		neg, s = true, s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

var koWeekdays = [...]string{"일요일", "월요일", "화요일", "수요일", "목요일", "금요일", "토요일"}

// formatDateTime is the long date with the time of day, as Intl's
// {dateStyle:"full", timeStyle:"short"}.
func formatDateTime(lang string, t time.Time) string {
	if lang == LangKorean {
		return fmt.Sprintf("%d년 %d월 %d일 %s %s", t.Year(), int(t.Month()), t.Day(),
			koWeekdays[t.Weekday()], koClock(t, false))
	}
	return t.Format("Monday, January 2, 2006 at 3:04 PM")
}

// formatClock is the time of day with seconds, as Intl's
// {hour:"numeric", minute:"2-digit", second:"2-digit"}.
func formatClock(lang string, t time.Time) string {
	if lang == LangKorean {
		return koClock(t, true)
	}
	return t.Format("3:04:05 PM")
}

func koClock(t time.Time, seconds bool) string {
	ampm := "오전"
	if t.Hour() >= 12 {
		ampm = "오후"
	}
	if seconds {
		return ampm + " " + t.Format("3:04:05")
	}
	return ampm + " " + t.Format("3:04")
}

// zoneLabel is the short name of the zone at t ("KST"), or its offset.
func zoneLabel(t time.Time) string {
	return t.Format("MST")
}

// formatCountdown shows d as hh:mm:ss, rounded up, with a day count in front past a day.
func formatCountdown(c catalog, d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64((d + time.Second - 1) / time.Second) // up, as queue.js: 00:00:00 only at the opening
	days := s / 86400
	s %= 86400
	hms := fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
	if days > 0 {
		return c.text("qjs_countdown_days", "days", formatInt(days), "time", hms)
	}
	return hms
}

// formatETA words an estimate range: minutes below two hours, whole hours
// above, the low end rounded down and the high end up so the range is honest.
func formatETA(c catalog, low, high time.Duration) string {
	lo, hi := low.Seconds(), high.Seconds()
	if hi < lo {
		lo, hi = hi, lo
	}
	switch {
	case hi <= 0:
		return c.text("qjs_eta_unknown")
	case hi < 60:
		return c.text("qjs_eta_under_minute")
	case hi < 7200:
		return etaWords(c, lo, hi, 60, "minute")
	default:
		return etaWords(c, lo, hi, 3600, "hour")
	}
}

func etaWords(c catalog, lo, hi, unit float64, name string) string {
	a := int64(math.Max(1, math.Floor(lo/unit)))
	b := int64(math.Max(float64(a), math.Ceil(hi/unit)))
	switch {
	case a == b && a == 1:
		return c.text("qjs_eta_" + name + "_one")
	case a == b:
		return c.text("qjs_eta_"+name+"s", "n", formatInt(a))
	default:
		return c.text("qjs_eta_"+name+"s_range", "low", formatInt(a), "high", formatInt(b))
	}
}

// progress returns how far a visitor has come from the place they joined at
// to the front, as done and total steps (total is at least 1).
func progress(joined, place int64) (done, total int64) {
	if joined < place {
		joined = place
	}
	total = joined - 1
	if total < 1 {
		return 1, 1
	}
	done = joined - place
	if place <= 0 {
		done = total
	}
	return done, total
}
