package gateway

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
)

// OutcomesConfig marks the backend's paths whose answers foyer records per admission (proxy
// mode): the payment step and the confirmation. A visitor whose payment answered 2xx but whose
// confirmation failed, timed out or never came before the session ended (or whom the backend
// reported failed) is flagged on the refund list.
type OutcomesConfig struct {
	// Payment and Confirm are path prefixes, e.g. /book/pay and /book/confirm.
	Payment []string `yaml:"payment"`
	Confirm []string `yaml:"confirm"`
	// OrderHeader is the backend's response header carrying its order reference, e.g.
	// X-Order-Id; it goes into the ledger and the refund list's export.
	OrderHeader string `yaml:"order_header"`
}

func (o OutcomesConfig) problems(f, mode string) []string {
	var p []string
	if len(o.Payment)+len(o.Confirm) > 0 && mode != "proxy" {
		p = append(p, f+": needs proxy mode (foyer must see the backend)")
	}
	for _, l := range []struct {
		name  string
		paths []string
	}{{"payment", o.Payment}, {"confirm", o.Confirm}} {
		for _, x := range l.paths {
			if !strings.HasPrefix(x, "/") || strings.ContainsAny(x, " ?#") {
				p = append(p, fmt.Sprintf("%s.%s: must be a path prefix like /book/pay, got %q", f, l.name, x))
			}
		}
	}
	if o.OrderHeader != "" && strings.ContainsAny(o.OrderHeader, " :\r\n") {
		p = append(p, f+".order_header: must be a header name")
	}
	return p
}

// LedgerConfig bounds the outcome ledger in Redis.
type LedgerConfig struct {
	// TTLDays is how long records are kept [30].
	TTLDays int `yaml:"ttl_days"`
	// MaxPerRoom bounds the records per room [200000]; the oldest go first.
	MaxPerRoom int `yaml:"max_per_room"`
}

func (l LedgerConfig) problems() []string {
	var p []string
	if l.TTLDays < 0 || l.TTLDays > 3650 {
		p = append(p, "ledger.ttl_days: must be between 1 and 3650 (0: 30)")
	}
	if l.MaxPerRoom < 0 || l.MaxPerRoom > 100_000_000 {
		p = append(p, "ledger.max_per_room: must be between 1 and 100000000 (0: 200000)")
	}
	return p
}

// observedKind says which marked path a request is on ("" if none): the longest prefix wins.
func (o OutcomesConfig) observedKind(path string) string {
	kind, best := "", 0
	for _, x := range o.Payment {
		if strings.HasPrefix(path, x) && len(x) > best {
			kind, best = queue.ObservePayment, len(x)
		}
	}
	for _, x := range o.Confirm {
		if strings.HasPrefix(path, x) && len(x) > best {
			kind, best = queue.ObserveConfirm, len(x)
		}
	}
	return kind
}

// observeClass is the ledger's class of a proxied answer: 504 (foyer's or the backend's) is a
// timeout; 502 (unreachable) and 499 (the visitor gave up) are errors.
func observeClass(status int) string {
	switch {
	case status == http.StatusGatewayTimeout:
		return "timeout"
	case status == http.StatusBadGateway || status == 499:
		return "error"
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	default:
		return "2xx"
	}
}

// observe records a proxied answer on a marked path in the visitor's ledger record, off the
// request's path (one Redis call; the visitor does not wait for it).
func (s *Server) observe(rm *room, cl admission.Claims, path string, status int, hdr http.Header) {
	kind := rm.cfg.Outcomes.observedKind(path)
	if kind == "" || cl.JTI == "" || queue.IsUnbacked(cl.JTI) || status == http.StatusSwitchingProtocols {
		return
	}
	ref := ""
	if h := rm.cfg.Outcomes.OrderHeader; h != "" {
		ref = hdr.Get(h)
	}
	class := observeClass(status)
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.Redis.Timeout)
		defer cancel()
		if err := s.engine.Observe(ctx, rm.cfg.Name, cl.JTI, kind, class, ref); err != nil {
			s.log.Warn().Err(err).Str("room", rm.cfg.Name).Str("visitor", cl.Visitor).Msg("ledger observation lost")
		}
	}()
}

// outcomeRecord is a ledger record in the admin API.
type outcomeRecord struct {
	Room       string         `json:"room"`
	Visitor    string         `json:"visitor"`
	Lease      string         `json:"lease"`
	Position   int64          `json:"position"`
	AdmittedAt string         `json:"admitted_at"`
	SessionEnd string         `json:"session_end"`
	Outcome    string         `json:"outcome"`
	Payment    queue.Observed `json:"payment"`
	Confirm    queue.Observed `json:"confirm"`
	PaidAt     string         `json:"paid_at,omitempty"`
	OrderRef   string         `json:"order_ref"`
	Flag       string         `json:"flag,omitempty"`
	Resolution string         `json:"resolution,omitempty"`
	ResolvedBy string         `json:"resolved_by,omitempty"`
	ResolvedAt string         `json:"resolved_at,omitempty"`
	// A second chance (reentry.go): who granted it (backend | evidence), when, until when it
	// could be used, when it was; in a re-entry's own record, the failed admission's lease.
	ReentryGrantedBy string `json:"reentry_granted_by,omitempty"`
	ReentryGrantedAt string `json:"reentry_granted_at,omitempty"`
	ReentryUntil     string `json:"reentry_until,omitempty"`
	ReentryUsedAt    string `json:"reentry_used_at,omitempty"`
	ReentryOf        string `json:"reentry_of,omitempty"`
}

func toOutcomeRecord(r queue.LedgerRecord, loc *time.Location) outcomeRecord {
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format(time.RFC3339)
	}
	o := outcomeRecord{Room: r.Room, Visitor: r.Visitor, Lease: r.Lease, Position: r.Position,
		AdmittedAt: at(r.AdmittedAt), SessionEnd: at(r.SessionEnd), Outcome: string(r.Outcome),
		Payment: r.Payment, Confirm: r.Confirm, PaidAt: at(r.PaidAt), OrderRef: r.OrderRef, Flag: r.Flag,
		Resolution: r.Resolution, ResolvedBy: r.ResolvedBy, ResolvedAt: at(r.ResolvedAt),
		ReentryGrantedBy: r.ReentryGrantedBy, ReentryGrantedAt: at(r.ReentryGrantedAt), ReentryUntil: at(r.ReentryUntil),
		ReentryUsedAt: at(r.ReentryUsedAt), ReentryOf: r.ReentryOf}
	if o.Payment == nil {
		o.Payment = queue.Observed{}
	}
	if o.Confirm == nil {
		o.Confirm = queue.Observed{}
	}
	return o
}

func limitParam(c echo.Context, def int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10_000 {
		return 0, &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "limit must be 1..10000", Fields: map[string]string{"limit": "must be 1..10000"}}
	}
	return n, nil
}

// handleAdminOutcomes: GET /rooms/{room}/outcomes?limit=: the newest ledger records.
func (s *Server) handleAdminOutcomes(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	limit, err := limitParam(c, 100)
	if err != nil {
		return err
	}
	recs, err := s.engine.Ledger(c.Request().Context(), rm.cfg.Name, limit)
	if err != nil {
		return s.storeErr("ledger", err)
	}
	out := struct {
		Records []outcomeRecord `json:"records"`
	}{Records: make([]outcomeRecord, 0, len(recs))}
	for _, r := range recs {
		out.Records = append(out.Records, toOutcomeRecord(r, rm.loc))
	}
	return c.JSON(http.StatusOK, out)
}

// flaggedColumns are the refund list's CSV columns.
var flaggedColumns = []string{"room", "visitor", "lease", "order_ref", "flag", "admitted_at", "paid_at", "session_end",
	"outcome", "payment", "confirm"}

func observedText(o queue.Observed) string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strconv.FormatInt(o[k], 10))
	}
	return strings.Join(parts, " ")
}

// handleAdminFlagged: GET /rooms/{room}/flagged[?format=csv]: the refund list, charged but not
// booked, oldest payment first; as CSV for a spreadsheet.
func (s *Server) handleAdminFlagged(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	limit, err := limitParam(c, 10_000)
	if err != nil {
		return err
	}
	recs, err := s.engine.Flagged(c.Request().Context(), rm.cfg.Name, limit)
	if err != nil {
		return s.storeErr("ledger", err)
	}
	switch c.QueryParam("format") {
	case "csv":
		w := c.Response()
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="foyer-refunds-`+rm.cfg.Name+`.csv"`)
		w.WriteHeader(http.StatusOK)
		cw := csv.NewWriter(w)
		_ = cw.Write(flaggedColumns)
		for _, r := range recs {
			o := toOutcomeRecord(r, rm.loc)
			_ = cw.Write([]string{o.Room, o.Visitor, o.Lease, csvSafe(o.OrderRef), o.Flag, o.AdmittedAt, o.PaidAt,
				o.SessionEnd, o.Outcome, observedText(o.Payment), observedText(o.Confirm)})
		}
		cw.Flush()
		return cw.Error()
	case "", "json":
	default:
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "format must be json or csv", Fields: map[string]string{"format": "must be json or csv"}}
	}
	out := struct {
		Count   int             `json:"count"`
		Flagged []outcomeRecord `json:"flagged"`
	}{Count: len(recs), Flagged: make([]outcomeRecord, 0, len(recs))}
	for _, r := range recs {
		out.Flagged = append(out.Flagged, toOutcomeRecord(r, rm.loc))
	}
	return c.JSON(http.StatusOK, out)
}

// csvSafe keeps a backend-supplied value from being read as a formula by a spreadsheet.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// resolveBody is the body of a resolution.
type resolveBody struct {
	Resolution string `json:"resolution"`
	Note       string `json:"note"`
}

// resolveAudit is a resolution's entry in the audit log.
type resolveAudit struct {
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Room       string    `json:"room"`
	Action     string    `json:"action"`
	Lease      string    `json:"lease"`
	Visitor    string    `json:"visitor"`
	OrderRef   string    `json:"order_ref,omitempty"`
	Flag       string    `json:"flag,omitempty"`
	Resolution string    `json:"resolution"`
	Note       string    `json:"note,omitempty"`
}

// handleAdminResolve: POST /rooms/{room}/flagged/{lease}/resolve {"resolution": "refunded" |
// "booked_by_hand", "note": ...}: audited in the same atomic call.
func (s *Server) handleAdminResolve(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	r := c.Request()
	var body resolveBody
	dec := json.NewDecoder(io.LimitReader(r.Body, min(s.cfg.Limits.MaxBodyBytes, 4096)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: `the body must be {"resolution":"refunded|booked_by_hand","note":"..."}`}
	}
	if len(body.Note) > 500 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "note is too long", Fields: map[string]string{"note": "at most 500 bytes"}}
	}
	actor, _ := c.Get("actor").(string)
	at := s.now().UTC()
	rec, err := s.engine.Resolve(r.Context(), rm.cfg.Name, c.Param("lease"), body.Resolution, actor, func(l queue.LedgerRecord) []byte {
		b, _ := json.Marshal(resolveAudit{At: at, Actor: actor, Room: rm.cfg.Name, Action: "resolve", Lease: l.Lease,
			Visitor: l.Visitor, OrderRef: l.OrderRef, Flag: l.Flag, Resolution: l.Resolution, Note: body.Note})
		return b
	})
	var ve *queue.ValidationError
	switch {
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "resolution must be refunded or booked_by_hand", Fields: ve.Fields}
	case errors.Is(err, queue.ErrNotFlagged):
		return httpError(http.StatusNotFound, "not_found", "no admission with that lease in this room's ledger")
	case errors.Is(err, queue.ErrAlreadyResolved):
		return &Error{Status: http.StatusConflict, Code: "already_resolved", Message: "already resolved (" + rec.Resolution + " by " + rec.ResolvedBy + ")"}
	case err != nil:
		return s.storeErr("resolve", err)
	}
	s.log.Info().Str("room", rm.cfg.Name).Str("actor", actor).Str("visitor", rec.Visitor).
		Str("resolution", rec.Resolution).Msg("flagged admission resolved")
	return c.JSON(http.StatusOK, toOutcomeRecord(rec, rm.loc))
}
