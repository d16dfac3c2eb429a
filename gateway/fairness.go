package gateway

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/web"
)

// handleFairness: GET /foyer/v1/rooms/{room}/fairness. The room's public fairness record: the
// pre-queue commitment (and after the opening the seed and P, so anyone can check the
// shuffle), and what foyer recorded of how the line treated its visitors. JSON for programs
// (and with ?format=json), a page in Korean or English for people (a browser asking for HTML).
func (s *Server) handleFairness(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	body, err := s.fairnessOf(c.Request().Context(), rm)
	if err != nil {
		return err
	}
	r := c.Request()
	c.Response().Header().Set("Vary", "Accept, Accept-Language")
	if wantsHTML(r) && r.URL.Query().Get("format") != "json" {
		return s.site.ServeFairnessPage(c.Response(), s.fairnessPage(r, rm, body))
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, body)
}

// fairnessBody is the public fairness record (JSON).
type fairnessBody struct {
	Room         string `json:"room"`
	Commitment   string `json:"commitment"`
	Algorithm    string `json:"algorithm"`
	OpensAt      string `json:"opens_at,omitempty"`
	Opened       bool   `json:"opened"`
	Seed         string `json:"seed,omitempty"`
	PrequeueSize int64  `json:"prequeue_size"`
	HowToVerify  string `json:"how_to_verify"`
	State        string `json:"state,omitempty"`
	// Record is nil while it cannot be read (the store is unreachable); RecordError says so.
	Record      *recordBody   `json:"record"`
	RecordError string        `json:"record_error,omitempty"`
	Feedback    *feedbackBody `json:"feedback,omitempty"`
}

// recordBody is queue.Record in the public JSON.
type recordBody struct {
	ComputedAt string `json:"computed_at"`
	// Exact counters since the room was created.
	Joined   int64 `json:"joined"`
	Skipped  int64 `json:"skipped"`
	Returned int64 `json:"returned"`
	// From the outcome ledger: every admission it holds (Basis says what that covers).
	Admissions  int64             `json:"admissions"`
	LedgerBound int64             `json:"ledger_bound"`
	Trimmed     bool              `json:"trimmed"`
	Order       orderBody         `json:"order"`
	Waits       queue.Quantiles   `json:"-"`
	WaitsJSON   map[string]any    `json:"waits_seconds"`
	ETA         etaCoverageBody   `json:"eta_coverage"`
	Basis       map[string]string `json:"basis"`
}

type orderBody struct {
	InOrder            int64   `json:"in_order"`
	ReturnedLane       int64   `json:"returned_lane"`
	Overtaken          int64   `json:"overtaken"`
	InOrderShare       float64 `json:"in_order_share"`
	OfferWindowSeconds float64 `json:"offer_window_seconds"`
}

type etaCoverageBody struct {
	Judged   int64   `json:"judged"`
	Held     int64   `json:"held"`
	Early    int64   `json:"early"`
	Late     int64   `json:"late"`
	Coverage float64 `json:"coverage"`
}

type feedbackBody struct {
	Total  int64            `json:"total"`
	Counts map[string]int64 `json:"counts"`
}

// recordBasis says, in the JSON, which figures are exact and what the others cover.
var recordBasis = map[string]string{
	"joined, skipped, returned":        "exact: the room's counters since it was created",
	"admissions, order, waits_seconds": "exact over the admissions the outcome ledger holds (every admission, unless trimmed is true: the ledger keeps at most ledger_bound records and drops those older than its TTL)",
	"order":                            "in_order: nobody from further back was let in before them by more than the offer window; returned_lane: away when their turn came, back within grace (or re-offered once after a data loss); overtaken: the rest",
	"waits_seconds":                    "from joining (from the opening for the pre-queue) to being let in; quantiles by nearest rank; in whole seconds (joining is recorded to the second)",
	"eta_coverage":                     "admissions let in in order that were shown an ETA range (the first range shown, noted for places up to 1,048,576): held = let in within [low, high+1) seconds of being shown it",
	"feedback":                         "counts of the visitors' ratings (1-5); comments are for the organisers only",
}

func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(of)*10000) / 10000
}

// fairnessOf builds the record: the commitment from the cache, the figures and the feedback
// counts from the engine's record (computed at most every 30 s per room per replica).
func (s *Server) fairnessOf(ctx context.Context, rm *room) (fairnessBody, error) {
	f, err := s.engine.Fairness(rm.cfg.Name)
	if err != nil {
		return fairnessBody{}, s.storeErr("fairness", err)
	}
	body := fairnessBody{Room: f.Room, Commitment: f.Commitment, Algorithm: f.Algorithm, Opened: f.Opened,
		Seed: f.Seed, PrequeueSize: f.PrequeueSize,
		HowToVerify: "sha256(seed) must equal commitment; the place of pre-queue ticket n (1..prequeue_size) is the " +
			"algorithm's permutation of n keyed by the seed: foyer verify --url <this URL> --ticket n, the verifier on " +
			"this page, or docs/fairness.md (with test vectors) to write your own"}
	if !f.OpensAt.IsZero() {
		body.OpensAt = f.OpensAt.In(rm.loc).Format(time.RFC3339)
	}
	rec, err := s.engine.FairnessRecord(ctx, rm.cfg.Name)
	if err != nil {
		body.RecordError = "the record cannot be read right now; try again in a minute"
		s.log.Warn().Err(err).Str("room", rm.cfg.Name).Msg("fairness record")
		return body, nil
	}
	body.State = string(rec.State)
	q := rec.Waits
	body.Record = &recordBody{
		ComputedAt: rec.ComputedAt.In(rm.loc).Format(time.RFC3339),
		Joined:     rec.Joined, Skipped: rec.Skipped, Returned: rec.Returned,
		Admissions: rec.Admissions, LedgerBound: rec.LedgerBound, Trimmed: rec.Trimmed,
		Order: orderBody{InOrder: rec.InOrder, ReturnedLane: rec.ReturnedLane, Overtaken: rec.Overtaken,
			InOrderShare: share(rec.InOrder, rec.Admissions), OfferWindowSeconds: rec.OfferWindow.Seconds()},
		Waits: q,
		WaitsJSON: map[string]any{"n": q.N, "min": q.Min, "p10": q.P10, "p25": q.P25, "p50": q.P50, "p75": q.P75,
			"p90": q.P90, "p99": q.P99, "max": q.Max, "mean": math.Round(q.Mean*10) / 10},
		ETA: etaCoverageBody{Judged: rec.ETAJudged, Held: rec.ETAHeld, Early: rec.ETAEarly, Late: rec.ETALate,
			Coverage: share(rec.ETAHeld, rec.ETAJudged)},
		Basis: recordBasis,
	}
	body.Feedback = &feedbackBody{Total: rec.FeedbackTotal, Counts: map[string]int64{}}
	for r := 1; r <= 5; r++ {
		body.Feedback.Counts[strconv.Itoa(r)] = rec.Feedback[r]
	}
	return body, nil
}

// fairnessPage turns the record into the people's page.
func (s *Server) fairnessPage(r *http.Request, rm *room, b fairnessBody) web.FairnessPageData {
	// absolute, so the command shown on the page can be pasted as it is
	base := strings.TrimRight(s.cfg.PublicURL, "/")
	if base == "" {
		base = "http://" + r.Host
		if r.TLS != nil {
			base = "https://" + r.Host
		}
	}
	self := base + s.cfg.Prefix + "/v1/rooms/" + url.PathEscape(rm.cfg.Name) + "/fairness"
	d := web.FairnessPageData{
		Lang: web.RequestLang(r), Room: rm.cfg.Name, DisplayName: rm.cfg.DisplayName, DisplayNames: rm.cfg.DisplayNames,
		Prefix: s.cfg.Prefix, Theme: rm.theme(), TimeZone: rm.cfg.TimeZone, JSONURL: self + "?format=json",
		Commitment: b.Commitment, Seed: b.Seed, PrequeueSize: b.PrequeueSize, Opened: b.Opened, State: b.State,
		Algorithm: b.Algorithm, RecordMissing: b.Record == nil,
	}
	if b.OpensAt != "" {
		d.OpensAt, _ = time.Parse(time.RFC3339, b.OpensAt)
	}
	if x := b.Record; x != nil {
		d.ComputedAt, _ = time.Parse(time.RFC3339, x.ComputedAt)
		d.Joined, d.Skipped, d.Returned, d.Admissions, d.Trimmed = x.Joined, x.Skipped, x.Returned, x.Admissions, x.Trimmed
		d.InOrder, d.ReturnedLane, d.Overtaken = x.Order.InOrder, x.Order.ReturnedLane, x.Order.Overtaken
		d.OfferWindow = time.Duration(x.Order.OfferWindowSeconds * float64(time.Second))
		q := x.Waits
		d.Waits = web.WaitQuantiles{N: q.N, P10: q.P10, P25: q.P25, P50: q.P50, P75: q.P75, P90: q.P90, P99: q.P99, Max: q.Max}
		d.ETAJudged, d.ETAHeld, d.ETAEarly, d.ETALate = x.ETA.Judged, x.ETA.Held, x.ETA.Early, x.ETA.Late
	}
	if b.Feedback != nil {
		d.FeedbackTotal = b.Feedback.Total
		for r := 1; r <= 5; r++ {
			d.FeedbackCounts[r] = b.Feedback.Counts[strconv.Itoa(r)]
		}
	}
	return d
}
