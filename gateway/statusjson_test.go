package gateway

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// encodeLikeEcho is what c.JSON sends: json.Encoder with its defaults (HTML escaping, newline).
func encodeLikeEcho(t *testing.T, b *statusBody) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ptr[T any](v T) *T { return &v }

func TestStatusJSONMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		body statusBody
	}{
		{"zero", statusBody{}},
		{"waiting", statusBody{Room: "biff-2026", State: "open", Place: ptr(int64(1234)), Ahead: ptr(int64(1233)),
			ETA: &etaBody{Low: 240, High: 360}, PollAfterMS: 5000, OpensAt: ptr("2026-10-01T14:00:00+09:00"),
			Position: 1234, UpdatedAt: "2026-10-01T05:00:00Z"}},
		// every field set: a field added to statusBody but not to appendStatusJSON fails here
		{"every field", statusBody{Room: "r", State: "paused", Place: ptr(int64(0)), Ahead: ptr(int64(-1)), Remaining: ptr(int64(3)),
			ETA: &etaBody{Low: math.MaxInt64, High: math.MinInt64}, PollAfterMS: -7, Admitted: true,
			Redirect: "https://tickets.example.org/x?a=1&b=<2>&foyer_token=e.y.J", OpensAt: ptr(""),
			Token: "eyJ.eyJ.sig", Ticket: "AQEB_-x", Reconnecting: true, Position: 9, JoinedPlace: 10,
			UpdatedAt: "now", PrequeueNumber: 11, AskFeedback: true}},
		{"escapes", statusBody{Room: "\"\\\b\f\n\r\t\x00\x1f\x7f", Redirect: "é€😀\u2028\u2029<>&'",
			Token: "\xff\xfe bad utf-8 \xe2\x82", Ticket: "a\u00a0b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := encodeLikeEcho(t, &tt.body)
			got := appendStatusJSON(nil, &tt.body)
			if !bytes.Equal(got, want) {
				t.Fatalf("appendStatusJSON:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestStatusJSONStringsMatchEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "0", "\"", "\\", "<", ">", "&", "\n", "\x01", "\x7f", "é", "\u2028", "\u2029",
		"😀", "\xff", "\xe2\x82", "/", " ", "\t"}
	for i := 0; i < 5000; i++ {
		var s string
		for j := rng.IntN(12); j > 0; j-- {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s want %s (valid utf-8 %v)", s, got, want, utf8.ValidString(s))
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\u2028", "\xff", "\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	})
}

func TestWriteStatusHeadersAndPretty(t *testing.T) {
	e := echo.New()
	body := statusBody{Room: "r", State: "open", UpdatedAt: "t"}
	for _, tt := range []struct {
		name, target string
		pretty       bool
	}{{"plain", "/s", false}, {"pretty", "/s?pretty", true}} {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodGet, tt.target, nil), w)
			if err := writeStatus(c, &body); err != nil {
				t.Fatal(err)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := w.Header().Get("Content-Type"); got != echo.MIMEApplicationJSON {
				t.Errorf("Content-Type %q", got)
			}
			indented := bytes.Contains(w.Body.Bytes(), []byte("\n  "))
			if indented != tt.pretty {
				t.Errorf("indented %v, want %v: %s", indented, tt.pretty, w.Body)
			}
			if !tt.pretty && !bytes.Equal(w.Body.Bytes(), encodeLikeEcho(t, &body)) {
				t.Errorf("body %s", w.Body)
			}
		})
	}
}

func TestClockTextIsRFC3339UTC(t *testing.T) {
	s := &Server{}
	loc := time.FixedZone("KST", 9*3600)
	for _, now := range []time.Time{time.Date(2026, 10, 1, 14, 0, 0, 0, loc), time.Date(2026, 10, 1, 14, 0, 0, 999e6, loc),
		time.Date(2026, 10, 1, 14, 0, 1, 0, loc)} {
		if got, want := s.clockText(now), now.UTC().Format(time.RFC3339); got != want {
			t.Errorf("clockText(%s) = %s, want %s", now, got, want)
		}
	}
}
