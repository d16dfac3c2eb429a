package web

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"time"
)

// WaitQuantiles is the distribution of waits on the fairness page, in seconds.
type WaitQuantiles struct {
	N                                 int64
	P10, P25, P50, P75, P90, P99, Max float64
}

// FairnessPageData is what the public fairness page is rendered from: the gateway's fairness
// record (its JSON) in Go types.
type FairnessPageData struct {
	Lang         string
	Room         string
	DisplayName  string
	DisplayNames map[string]string
	Prefix       string
	Theme        Theme
	TimeZone     string
	// JSONURL is the record as JSON (linked, and what the verifier's CLI takes).
	JSONURL string
	// The pre-queue shuffle: commitment (hex SHA-256 of the seed), and after the opening the
	// seed (hex) and the pre-queue size.
	Commitment, Seed, Algorithm string
	PrequeueSize                int64
	Opened                      bool
	OpensAt                     time.Time
	// State is the room's state (closed and sold_out make the record final).
	State string
	// RecordMissing: the figures could not be read; only the shuffle is shown.
	RecordMissing                         bool
	ComputedAt                            time.Time
	Joined, Skipped, Returned, Admissions int64
	Trimmed                               bool
	InOrder, ReturnedLane, Overtaken      int64
	OfferWindow                           time.Duration
	Waits                                 WaitQuantiles
	ETAJudged, ETAHeld, ETAEarly, ETALate int64
	FeedbackTotal                         int64
	FeedbackCounts                        [6]int64 // [1..5]
	Nonce                                 string
}

type fairnessView struct {
	base
	D                                        FairnessPageData
	Final                                    bool
	Computed, Opens, Zone                    string
	InOrderPc, ETAHeldPc                     string
	Waits                                    []waitRow
	Feedback                                 []feedbackRow
	Boot                                     fairnessBoot
	HasRecord, HasETA, HasWaits, HasFeedback bool
}

type waitRow struct{ Label, Value string }

type feedbackRow struct {
	Rating int
	Count  string
	Pc     int64
}

// fairnessBoot is handed to verify.js.
type fairnessBoot struct {
	Seed       string            `json:"seed"`
	Commitment string            `json:"commitment"`
	P          int64             `json:"p"`
	Opened     bool              `json:"opened"`
	Lang       string            `json:"lang"`
	Msgs       map[string]string `json:"msgs"`
}

// pc formats n/of as a whole percentage ("–" when of is 0).
func pc(n, of int64) string {
	if of <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", math.Floor(float64(n)*100/float64(of)+0.5))
}

// formatWait says a wait in seconds as "1 h 5 min", "4 min 20 s", "35 s" (Korean: 시간, 분, 초).
func formatWait(lang string, sec float64) string {
	s := int64(math.Round(sec))
	h, m, x := s/3600, s%3600/60, s%60
	u := [3]string{" h", " min", " s"}
	if lang == LangKorean {
		u = [3]string{"시간", "분", "초"}
	}
	switch {
	case h > 0:
		return fmt.Sprintf("%d%s %d%s", h, u[0], m, u[1])
	case m > 0:
		return fmt.Sprintf("%d%s %d%s", m, u[1], x, u[2])
	}
	return fmt.Sprintf("%d%s", x, u[2])
}

func (s *Site) fairnessView(d FairnessPageData) *fairnessView {
	prefix := cleanPrefix(d.Prefix)
	name := pickName(d.DisplayNames, d.Lang, d.DisplayName, d.Room)
	v := &fairnessView{base: s.base(d.Lang, name, prefix, d.Theme, d.Nonce, "verify.js"), D: d}
	c := v.cat
	v.Title = c.text("fr_title") + " · " + name
	v.Final = d.State == "closed" || d.State == "sold_out"
	loc, _ := location(d.TimeZone)
	if !d.ComputedAt.IsZero() {
		v.Computed = formatDateTime(v.Lang, d.ComputedAt.In(loc))
	}
	if !d.OpensAt.IsZero() {
		o := d.OpensAt.In(loc)
		v.Opens, v.Zone = formatDateTime(v.Lang, o), zoneLabel(o)
	}
	v.HasRecord = !d.RecordMissing
	v.InOrderPc = pc(d.InOrder, d.Admissions)
	v.HasETA = d.ETAJudged > 0
	v.ETAHeldPc = pc(d.ETAHeld, d.ETAJudged)
	if v.HasWaits = d.Waits.N > 0; v.HasWaits {
		q := d.Waits
		for _, r := range []struct {
			k string
			x float64
		}{{"fr_w_p10", q.P10}, {"fr_w_p25", q.P25}, {"fr_w_p50", q.P50}, {"fr_w_p75", q.P75}, {"fr_w_p90", q.P90}, {"fr_w_p99", q.P99}, {"fr_w_max", q.Max}} {
			v.Waits = append(v.Waits, waitRow{Label: c.text(r.k), Value: formatWait(v.Lang, r.x)})
		}
	}
	if v.HasFeedback = d.FeedbackTotal > 0; v.HasFeedback {
		for r := 5; r >= 1; r-- {
			n := d.FeedbackCounts[r]
			v.Feedback = append(v.Feedback, feedbackRow{Rating: r, Count: formatInt(n), Pc: n * 100 / d.FeedbackTotal})
		}
	}
	v.Boot = fairnessBoot{Seed: d.Seed, Commitment: d.Commitment, P: d.PrequeueSize, Opened: d.Opened, Lang: v.Lang,
		Msgs: c.subset("vjs_")}
	return v
}

// FairnessPage renders the public fairness page for d to w.
func (s *Site) FairnessPage(w io.Writer, d FairnessPageData) error {
	return s.pages[tmplFairness].Execute(w, s.fairnessView(d))
}

// ServeFairnessPage is ServeQueuePage for the public fairness page (status 200).
func (s *Site) ServeFairnessPage(w http.ResponseWriter, d FairnessPageData) error {
	if d.Nonce == "" {
		d.Nonce = NewNonce()
	}
	return serve(w, http.StatusOK, d.Nonce, func(b io.Writer) error { return s.FairnessPage(b, d) })
}

// FeedbackPageData is what the visitor feedback page is rendered from: the one-tap rating the
// queue page also shows (feedback.js fetches this page's prompt) after the sale or a session.
type FeedbackPageData struct {
	Lang         string
	Room         string
	DisplayName  string
	DisplayNames map[string]string
	Prefix       string
	Theme        Theme
	// AskFeedback shows "your session has ended" above the prompt.
	AskFeedback bool
	Nonce       string
}

type feedbackView struct {
	base
	Room, FeedbackURL string
	AskFeedback       bool
	Ratings           []ratingButton
}

// ratingButton is one of the prompt's five answers.
type ratingButton struct {
	N           int
	Face, Label string
}

var ratingFaces = [...]string{"", "😫", "🙁", "😐", "🙂", "😀"}

func (s *Site) feedbackView(d FeedbackPageData) *feedbackView {
	prefix := cleanPrefix(d.Prefix)
	name := pickName(d.DisplayNames, d.Lang, d.DisplayName, d.Room)
	v := &feedbackView{base: s.base(d.Lang, name, prefix, d.Theme, d.Nonce, "feedback.js"), Room: d.Room,
		FeedbackURL: prefix + "/v1/rooms/" + d.Room + "/feedback", AskFeedback: d.AskFeedback}
	v.Title = v.cat.text("fb_title") + " · " + name
	for r := 1; r <= 5; r++ {
		v.Ratings = append(v.Ratings, ratingButton{N: r, Face: ratingFaces[r], Label: v.cat.text(fmt.Sprintf("fb_r%d", r))})
	}
	return v
}

// FeedbackPage renders the visitor feedback page for d to w.
func (s *Site) FeedbackPage(w io.Writer, d FeedbackPageData) error {
	return s.pages[tmplFeedback].Execute(w, s.feedbackView(d))
}

// ServeFeedbackPage is ServeQueuePage for the visitor feedback page (status 200).
func (s *Site) ServeFeedbackPage(w http.ResponseWriter, d FeedbackPageData) error {
	if d.Nonce == "" {
		d.Nonce = NewNonce()
	}
	return serve(w, http.StatusOK, d.Nonce, func(b io.Writer) error { return s.FeedbackPage(b, d) })
}
