package queue

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Visitor feedback (issue 14): after their session ends or the room closes, a visitor may rate
// the wait (1 to 5) once per room, with an optional short comment. Per room: the ratings'
// counts (a hash), the newest FeedbackKept comments (a list) and a digest of each visitor who
// gave feedback (a set, at most FeedbackMaxVisitors), all with the ledger's TTL. No visitor id
// is stored with a comment. One script call per feedback.

var feedbackScript = mustScript("feedback")

func init() { allScripts = append(allScripts, feedbackScript) }

// Feedback bounds.
const (
	// FeedbackMaxComment bounds a comment, in characters.
	FeedbackMaxComment = 500
	// FeedbackKept is how many of the newest comments a room keeps.
	FeedbackKept = 1000
	// FeedbackMaxVisitors bounds the visitors who may give feedback on one room.
	FeedbackMaxVisitors = 200_000
)

// Feedback errors.
var (
	// ErrFeedbackGiven: this visitor already gave feedback on this room.
	ErrFeedbackGiven = errors.New("queue: feedback already given")
	// ErrFeedbackFull: the room has taken feedback from FeedbackMaxVisitors visitors.
	ErrFeedbackFull = errors.New("queue: feedback is full for this room")
)

// FeedbackEntry is one comment with its rating.
type FeedbackEntry struct {
	Rating  int
	Comment string
	At      time.Time
}

// FeedbackSummary is a room's feedback: Counts[r] visitors rated r (1..5), Comments of them
// left a comment; Newest are the newest comments, newest first.
type FeedbackSummary struct {
	Counts   [6]int64
	Total    int64
	Comments int64
	Newest   []FeedbackEntry
}

// CleanComment trims a comment, turns control characters into spaces and reports whether it
// is within FeedbackMaxComment characters and valid UTF-8.
func CleanComment(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	return s, utf8.RuneCountInString(s) <= FeedbackMaxComment
}

func visitorDigest(room, visitor string) string {
	h := sha256.Sum256([]byte("foyer-feedback\x00" + room + "\x00" + visitor))
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

// GiveFeedback records a visitor's rating (1..5) and optional comment on a room, once:
// ErrFeedbackGiven the second time, ErrFeedbackFull past the bound, a *ValidationError for a
// bad rating or comment.
func (e *Engine) GiveFeedback(ctx context.Context, room, visitor string, rating int, comment string) error {
	if !ValidRoomName(room) {
		return fmt.Errorf("queue: feedback: room %q: %w", room, ErrInvalidRoomName)
	}
	var verr ValidationError
	if rating < 1 || rating > 5 {
		verr.add("rating", "must be 1, 2, 3, 4 or 5")
	}
	c, ok := CleanComment(comment)
	if !ok {
		verr.add("comment", fmt.Sprintf("must be valid text of at most %d characters", FeedbackMaxComment))
	}
	if err := verr.orNil(); err != nil {
		return err
	}
	if !ValidVisitorID(visitor) {
		return fmt.Errorf("queue: feedback %s: %w", room, ErrBadTicket)
	}
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := feedbackScript.Run(cctx, e.rdb, []string{k.feedbackWho(), k.feedbackCounts(), k.feedbackList()},
		visitorDigest(room, visitor), rating, c, FeedbackKept, FeedbackMaxVisitors, e.cfg.LedgerTTL.Milliseconds()).Result()
	if err != nil {
		return storeErr("queue: feedback "+room, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return fmt.Errorf("queue: feedback %s: %w", room, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return fmt.Errorf("queue: feedback %s: %w", room, err)
	}
	switch tag {
	case "OK":
		return nil
	case "GIVEN":
		return fmt.Errorf("queue: feedback %s: %w", room, ErrFeedbackGiven)
	case "FULL":
		return fmt.Errorf("queue: feedback %s: %w", room, ErrFeedbackFull)
	}
	return fmt.Errorf("queue: feedback %s: %w", room, replyErr{"feedback: " + tag})
}

// Feedback returns a room's feedback counts and its newest comments (at most limit; 0 for
// counts only). One pipelined round trip.
func (e *Engine) Feedback(ctx context.Context, room string, limit int) (FeedbackSummary, error) {
	if !ValidRoomName(room) {
		return FeedbackSummary{}, fmt.Errorf("queue: feedback: room %q: %w", room, ErrInvalidRoomName)
	}
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	p := e.rdb.Pipeline()
	counts := p.HGetAll(cctx, k.feedbackCounts())
	var list interface{ Result() ([]string, error) }
	if limit > 0 {
		list = p.LRange(cctx, k.feedbackList(), 0, int64(min(limit, FeedbackKept))-1)
	}
	if _, err := p.Exec(cctx); err != nil {
		return FeedbackSummary{}, storeErr("queue: feedback "+room, err)
	}
	var s FeedbackSummary
	m, _ := counts.Result()
	for f, v := range m {
		n, _ := strconv.ParseInt(v, 10, 64)
		if f == "comments" {
			s.Comments = n
			continue
		}
		if r, err := strconv.Atoi(f); err == nil && r >= 1 && r <= 5 {
			s.Counts[r] = n
			s.Total += n
		}
	}
	if list != nil {
		items, _ := list.Result()
		for _, it := range items {
			var j struct {
				R int    `json:"r"`
				C string `json:"c"`
				T int64  `json:"t"`
			}
			if json.Unmarshal([]byte(it), &j) == nil {
				s.Newest = append(s.Newest, FeedbackEntry{Rating: j.R, Comment: j.C, At: timeOfMs(j.T)})
			}
		}
	}
	return s, nil
}
