package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// statusBody is the visitor status JSON of DESIGN.md's HTTP contract (plus a few fields the
// queue page uses).
type statusBody struct {
	Room         string   `json:"room"`
	State        string   `json:"state"`
	Place        *int64   `json:"place"`
	Ahead        *int64   `json:"ahead"`
	Remaining    *int64   `json:"remaining,omitempty"` // stock left, only while fewer than place (soldout.go)
	ETA          *etaBody `json:"eta_seconds"`
	PollAfterMS  int64    `json:"poll_after_ms"`
	Admitted     bool     `json:"admitted"`
	Redirect     string   `json:"redirect"`
	OpensAt      *string  `json:"opens_at"`
	Token        string   `json:"token,omitempty"`
	Ticket       string   `json:"ticket,omitempty"`
	Reconnecting bool     `json:"reconnecting"`
	Stalled      string   `json:"stalled,omitempty"`
	Returning    bool     `json:"returning,omitempty"`
	Notice       string   `json:"notice,omitempty"`
	Reentry      bool     `json:"reentry,omitempty"` // a second chance after a failed booking (reentry.go)
	Position     int64    `json:"position,omitempty"`
	JoinedPlace  int64    `json:"joined_place,omitempty"`
	UpdatedAt    string   `json:"updated_at"`

	// PrequeueNumber is the visitor's pre-queue ticket number (1..P), so they can check their
	// place with the published seed (fairness.go); AskFeedback: their session ended (feedback.go).
	PrequeueNumber int64 `json:"prequeue_number,omitempty"`
	AskFeedback    bool  `json:"ask_feedback,omitempty"`
}

type etaBody struct {
	Low  int64 `json:"low"`
	High int64 `json:"high"`
}

// clockTexts caches the RFC 3339 text of the current second: every status carries it.
var clockTexts atomic.Pointer[clockText]

type clockText struct {
	unix int64
	text string
}

// clockText is now, in UTC to the second, as RFC 3339.
func (s *Server) clockText(now time.Time) string {
	sec := now.Unix()
	if c := clockTexts.Load(); c != nil && c.unix == sec {
		return c.text
	}
	c := &clockText{unix: sec, text: now.UTC().Format(time.RFC3339)}
	clockTexts.Store(c)
	return c.text
}

// writeStatus sends the status JSON, exactly as c.JSON would encode it, without reflection.
func writeStatus(c echo.Context, b *statusBody) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if c.Request().URL.RawQuery != "" && c.QueryParams().Has("pretty") {
		return c.JSON(http.StatusOK, *b) // echo's indented form, for people reading it (a copy: b stays on the stack)
	}
	buf := statusBufs.Get().(*[]byte)
	*buf = appendStatusJSON((*buf)[:0], b)
	err := c.JSONBlob(http.StatusOK, *buf)
	if cap(*buf) <= 4096 {
		statusBufs.Put(buf)
	}
	return err
}

var statusBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendStatusJSON appends b as encoding/json (HTML-escaped, as echo's serializer) encodes it,
// with the trailing newline of json.Encoder. TestStatusJSONMatchesEncodingJSON keeps the two
// the same: a field added to statusBody must be added here.
func appendStatusJSON(buf []byte, b *statusBody) []byte {
	buf = append(buf, `{"room":`...)
	buf = appendJSONString(buf, b.Room)
	buf = append(buf, `,"state":`...)
	buf = appendJSONString(buf, b.State)
	buf = append(buf, `,"place":`...)
	buf = appendIntPtr(buf, b.Place)
	buf = append(buf, `,"ahead":`...)
	buf = appendIntPtr(buf, b.Ahead)
	if b.Remaining != nil {
		buf = append(buf, `,"remaining":`...)
		buf = strconv.AppendInt(buf, *b.Remaining, 10)
	}
	buf = append(buf, `,"eta_seconds":`...)
	if b.ETA == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, `{"low":`...)
		buf = strconv.AppendInt(buf, b.ETA.Low, 10)
		buf = append(buf, `,"high":`...)
		buf = strconv.AppendInt(buf, b.ETA.High, 10)
		buf = append(buf, '}')
	}
	buf = append(buf, `,"poll_after_ms":`...)
	buf = strconv.AppendInt(buf, b.PollAfterMS, 10)
	buf = append(buf, `,"admitted":`...)
	buf = strconv.AppendBool(buf, b.Admitted)
	buf = append(buf, `,"redirect":`...)
	buf = appendJSONString(buf, b.Redirect)
	buf = append(buf, `,"opens_at":`...)
	if b.OpensAt == nil {
		buf = append(buf, "null"...)
	} else {
		buf = appendJSONString(buf, *b.OpensAt)
	}
	if b.Token != "" {
		buf = append(buf, `,"token":`...)
		buf = appendJSONString(buf, b.Token)
	}
	if b.Ticket != "" {
		buf = append(buf, `,"ticket":`...)
		buf = appendJSONString(buf, b.Ticket)
	}
	buf = append(buf, `,"reconnecting":`...)
	buf = strconv.AppendBool(buf, b.Reconnecting)
	if b.Stalled != "" {
		buf = append(buf, `,"stalled":`...)
		buf = appendJSONString(buf, b.Stalled)
	}
	if b.Returning {
		buf = append(buf, `,"returning":true`...)
	}
	if b.Notice != "" {
		buf = append(buf, `,"notice":`...)
		buf = appendJSONString(buf, b.Notice)
	}
	if b.Reentry {
		buf = append(buf, `,"reentry":true`...)
	}
	if b.Position != 0 {
		buf = append(buf, `,"position":`...)
		buf = strconv.AppendInt(buf, b.Position, 10)
	}
	if b.JoinedPlace != 0 {
		buf = append(buf, `,"joined_place":`...)
		buf = strconv.AppendInt(buf, b.JoinedPlace, 10)
	}
	buf = append(buf, `,"updated_at":`...)
	buf = appendJSONString(buf, b.UpdatedAt)
	if b.PrequeueNumber != 0 {
		buf = append(buf, `,"prequeue_number":`...)
		buf = strconv.AppendInt(buf, b.PrequeueNumber, 10)
	}
	if b.AskFeedback {
		buf = append(buf, `,"ask_feedback":true`...)
	}
	return append(buf, "}\n"...)
}

func appendIntPtr(buf []byte, p *int64) []byte {
	if p == nil {
		return append(buf, "null"...)
	}
	return strconv.AppendInt(buf, *p, 10)
}

// appendJSONString quotes s as encoding/json does with HTML escaping on: <, > and & as \u00XX,
// control characters escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(buf []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
