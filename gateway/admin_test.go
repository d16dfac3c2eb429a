package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue"
)

// The admin API tests run against the real gateway harness: real Redis, real HTTP. Every
// refused request is followed by a check, read from the engine (not from the API under test),
// that nothing changed: the stored settings are identical and the audit log did not grow.

const (
	laterRoom       = "gala"       // opens in two hours: its opens_at may still change
	secondAdmin     = "box-office" // a second organiser token's name
	secondAdminTok  = "second-admin-token-abcdef0123"
	adminPath       = "/foyer/admin/v1"
	festivalPath    = adminPath + "/rooms/" + testRoom
	seoulOpensInput = "2031-05-01T14:00:00+09:00"
)

// newAdminHarness is a gateway with two rooms (one open, one opening later in Seoul time) and
// two organiser tokens.
func newAdminHarness(t *testing.T) *harness {
	t.Helper()
	return newHarness(t, harnessOpt{
		rooms: func(b string) []RoomConfig {
			later := RoomConfig{Name: laterRoom, DisplayName: "Gala screening", Paths: []string{"/gala/"}, Backend: b,
				RatePerMinute: 120, MaxActive: 50, OpensIn: 2 * time.Hour, TimeZone: "Asia/Seoul"}
			return []RoomConfig{defaultRoom(b), later}
		},
		mod: func(c *Config) {
			c.Admin.Tokens = append(c.Admin.Tokens, AdminToken{Name: secondAdmin, Token: secondAdminTok})
		},
	})
}

// adminCall is one admin API request; auth "" sends the tester's token, "-" sends none.
type adminCall struct {
	method, path, body string
	auth               string
	contentType        string // "" = application/json when there is a body; "-" = none
	ifMatch            string
}

type adminReply struct {
	status int
	header http.Header
	body   []byte
}

func (r adminReply) errBody(t *testing.T) errorDetail {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return e.Error
}

func (r adminReply) room(t *testing.T) adminRoom {
	t.Helper()
	var a adminRoom
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("room body %q: %v", r.body, err)
	}
	return a
}

func (h *harness) call(c adminCall) adminReply {
	h.t.Helper()
	req, err := http.NewRequest(c.method, h.srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	switch c.auth {
	case "":
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
	case "-":
	default:
		req.Header.Set("Authorization", c.auth)
	}
	switch {
	case c.contentType == "-":
	case c.contentType != "":
		req.Header.Set("Content-Type", c.contentType)
	case c.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	if c.ifMatch != "" {
		req.Header.Set("If-Match", c.ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return adminReply{status: resp.StatusCode, header: resp.Header, body: b}
}

// stored reads a room's settings straight from the engine (Redis), not through the API.
func (h *harness) stored(room string) queue.Settings {
	h.t.Helper()
	st, err := h.engine.Settings(context.Background(), room)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// auditRaw returns the raw audit entries, newest first, straight from the engine.
func (h *harness) auditRaw() []auditEntry {
	h.t.Helper()
	raw, err := h.engine.Audit(context.Background(), h.engine.Rooms(), 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]auditEntry, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			h.t.Fatalf("audit entry %q: %v", r, err)
		}
	}
	return out
}

// unchanged fails the test if a room's settings or the audit log moved since before.
func (h *harness) unchanged(t *testing.T, what string, before map[string]queue.Settings, auditBefore int) {
	t.Helper()
	for room, st := range before {
		if now := h.stored(room); !reflect.DeepEqual(now, st) {
			t.Errorf("%s changed room %s: %+v -> %+v", what, room, st, now)
		}
	}
	if n := len(h.auditRaw()); n != auditBefore {
		t.Errorf("%s wrote to the audit log: %d -> %d entries", what, auditBefore, n)
	}
}

func (h *harness) snapshot() (map[string]queue.Settings, int) {
	return map[string]queue.Settings{testRoom: h.stored(testRoom), laterRoom: h.stored(laterRoom)}, len(h.auditRaw())
}

// TestAdminPatchEachField: given a room, when one field is PATCHed, then the answer carries the
// new settings with the version one up, the engine stores exactly that change, and the state
// visitors see follows.
func TestAdminPatchEachField(t *testing.T) {
	t.Parallel()
	h := newAdminHarness(t)
	seoul, _ := time.LoadLocation("Asia/Seoul")
	opens, _ := time.Parse(time.RFC3339, seoulOpensInput)
	tests := []struct {
		name  string
		room  string
		body  string
		check func(t *testing.T, before, after queue.Settings, a adminRoom)
	}{
		{"rate_per_minute", testRoom, `{"rate_per_minute": 1200}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			b.RatePerMinute = 1200
			sameBut(t, b, s)
			if a.Settings.RatePerMinute != 1200 {
				t.Errorf("answer rate %d", a.Settings.RatePerMinute)
			}
		}},
		{"max_active", testRoom, `{"max_active": 7}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			b.MaxActive = 7
			sameBut(t, b, s)
			if a.Settings.MaxActive != 7 {
				t.Errorf("answer max_active %d", a.Settings.MaxActive)
			}
		}},
		{"session_seconds", testRoom, `{"session_seconds": 900}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			b.Session = 900 * time.Second
			sameBut(t, b, s)
			if a.Settings.SessionSeconds != 900 {
				t.Errorf("answer session_seconds %d", a.Settings.SessionSeconds)
			}
		}},
		{"opens_at before opening, shown in the room's zone", laterRoom, `{"opens_at": "2031-05-01T05:00:00Z"}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			if !s.OpensAt.Equal(opens) {
				t.Errorf("stored opens_at %s, want %s", s.OpensAt, opens)
			}
			b.OpensAt = s.OpensAt
			sameBut(t, b, s)
			if a.Settings.OpensAt != opens.In(seoul).Format(time.RFC3339) || a.Settings.OpensAt != seoulOpensInput {
				t.Errorf("answer opens_at %q, want %q", a.Settings.OpensAt, seoulOpensInput)
			}
			if a.State != string(queue.StatePrequeue) && a.State != string(queue.StateScheduled) {
				t.Errorf("state before opening %q", a.State)
			}
		}},
		{"state paused", testRoom, `{"state": "paused"}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			b.State = queue.StatePaused
			sameBut(t, b, s)
			if a.State != "paused" || a.Settings.State != "paused" {
				t.Errorf("answer state %q / %q", a.State, a.Settings.State)
			}
		}},
		{"state closed", testRoom, `{"state": "closed"}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			b.State = queue.StateClosed
			sameBut(t, b, s)
			if a.State != "closed" || a.Settings.State != "closed" {
				t.Errorf("answer state %q / %q", a.State, a.Settings.State)
			}
		}},
		{"state open", testRoom, `{"state": "open"}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			b.State = queue.StateOpen
			sameBut(t, b, s)
			if a.State != "open" || a.Settings.State != "open" {
				t.Errorf("answer state %q / %q", a.State, a.Settings.State)
			}
		}},
		{"several fields at once", testRoom, `{"rate_per_minute": 90, "max_active": 40, "session_seconds": 120}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			b.RatePerMinute, b.MaxActive, b.Session = 90, 40, 2*time.Minute
			sameBut(t, b, s)
			if a.ETAClearSeconds != 0 || a.Live.Waiting != 0 {
				t.Errorf("empty room: eta %d waiting %d", a.ETAClearSeconds, a.Live.Waiting)
			}
		}},
		{"a value equal to the current one still bumps the version", testRoom, `{"rate_per_minute": 90}`, func(t *testing.T, b, s queue.Settings, a adminRoom) {
			sameBut(t, b, s)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given
			before := h.stored(tt.room)
			auditBefore := len(h.auditRaw())
			// when
			r := h.call(adminCall{method: http.MethodPatch, path: adminPath + "/rooms/" + tt.room, body: tt.body})
			// expect
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			a := r.room(t)
			after := h.stored(tt.room)
			if after.Version != before.Version+1 || a.Settings.Version != after.Version {
				t.Fatalf("version %d -> stored %d, answered %d; want one up", before.Version, after.Version, a.Settings.Version)
			}
			if etag := r.header.Get("ETag"); etag != strconv.Quote(strconv.FormatInt(after.Version, 10)) {
				t.Errorf("ETag %q, want the new version", etag)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if a.Name != tt.room {
				t.Errorf("answered room %q", a.Name)
			}
			tt.check(t, before, after, a)
			if n := len(h.auditRaw()); n != auditBefore+1 {
				t.Errorf("audit entries %d -> %d, want one more", auditBefore, n)
			}
		})
	}
}

// sameBut compares want (the settings before, with the expected change applied) with the
// stored settings, ignoring the version.
func sameBut(t *testing.T, want, got queue.Settings) {
	t.Helper()
	want.Version = got.Version
	if !reflect.DeepEqual(want, got) {
		t.Errorf("stored settings:\n got %+v\nwant %+v", got, want)
	}
}

// TestAdminPatchRejected: given a bad request, the answer names every bad field (or says what
// is wrong with the request) and nothing changes: not the settings, not the version, not the
// audit log.
func TestAdminPatchRejected(t *testing.T) {
	t.Parallel()
	h := newAdminHarness(t)
	big := `{"rate_per_minute": 5, "pad": "` + strings.Repeat("x", int(h.cfg.Limits.MaxBodyBytes)) + `"}`
	tests := []struct {
		name       string
		call       adminCall
		wantStatus int
		wantCode   string
		wantFields []string // exactly these keys in error.fields
	}{
		// each field, bad on its own
		{"rate zero", patchCall(`{"rate_per_minute": 0}`), 400, "invalid", []string{"rate_per_minute"}},
		{"rate negative", patchCall(`{"rate_per_minute": -60}`), 400, "invalid", []string{"rate_per_minute"}},
		{"rate fraction", patchCall(`{"rate_per_minute": 1.5}`), 400, "invalid", []string{"rate_per_minute"}},
		{"rate as a string", patchCall(`{"rate_per_minute": "600"}`), 400, "invalid", []string{"rate_per_minute"}},
		{"rate null", patchCall(`{"rate_per_minute": null}`), 400, "invalid", []string{"rate_per_minute"}},
		{"rate too high", patchCall(`{"rate_per_minute": 99999999999}`), 400, "invalid", []string{"rate_per_minute"}},
		{"max_active zero", patchCall(`{"max_active": 0}`), 400, "invalid", []string{"max_active"}},
		{"max_active too high", patchCall(`{"max_active": 10000001}`), 400, "invalid", []string{"max_active"}},
		{"max_active bool", patchCall(`{"max_active": true}`), 400, "invalid", []string{"max_active"}},
		{"session too short", patchCall(`{"session_seconds": 5}`), 400, "invalid", []string{"session_seconds"}},
		{"session over a day", patchCall(`{"session_seconds": 86401}`), 400, "invalid", []string{"session_seconds"}},
		{"session beyond the room's max session", patchCall(`{"session_seconds": 3600}`), 400, "invalid", []string{"session_seconds"}},
		{"opens_at not a time", patchCallTo(laterRoom, `{"opens_at": "tomorrow at two"}`), 400, "invalid", []string{"opens_at"}},
		{"opens_at without a zone", patchCallTo(laterRoom, `{"opens_at": "2031-05-01T14:00:00"}`), 400, "invalid", []string{"opens_at"}},
		{"opens_at a number", patchCallTo(laterRoom, `{"opens_at": 1700000000}`), 400, "invalid", []string{"opens_at"}},
		{"opens_at out of range", patchCallTo(laterRoom, `{"opens_at": "1999-01-01T00:00:00Z"}`), 400, "invalid", []string{"opens_at"}},
		{"opens_at after opening", patchCall(`{"opens_at": "2031-05-01T14:00:00+09:00"}`), 400, "invalid", []string{"opens_at"}},
		{"state unknown", patchCall(`{"state": "gone"}`), 400, "invalid", []string{"state"}},
		{"state derived, not settable", patchCall(`{"state": "prequeue"}`), 400, "invalid", []string{"state"}},
		{"state not a string", patchCall(`{"state": 1}`), 400, "invalid", []string{"state"}},
		// several at once: every one is named, good ones are not applied either
		{"three bad fields", patchCall(`{"rate_per_minute": 0, "max_active": -1, "state": "gone"}`), 400, "invalid",
			[]string{"max_active", "rate_per_minute", "state"}},
		{"every field bad", patchCallTo(laterRoom, `{"rate_per_minute": "x", "max_active": 0, "session_seconds": 1, "opens_at": "soon", "state": ""}`), 400, "invalid",
			[]string{"max_active", "opens_at", "rate_per_minute", "session_seconds", "state"}},
		{"a good field beside a bad one", patchCall(`{"rate_per_minute": 100, "max_active": 0}`), 400, "invalid", []string{"max_active"}},
		// fields refused by the room's own rules are named beside malformed ones
		{"malformed rate, session beyond the max session", patchCall(`{"rate_per_minute": 0, "session_seconds": 3600}`), 400, "invalid",
			[]string{"rate_per_minute", "session_seconds"}},
		{"malformed cap, opens_at after opening", patchCall(`{"max_active": "x", "opens_at": "2031-05-01T14:00:00+09:00"}`), 400, "invalid",
			[]string{"max_active", "opens_at"}},
		// unknown fields are named too, beside the bad known ones
		{"unknown field", patchCall(`{"rate": 100}`), 400, "invalid", []string{"rate"}},
		{"unknown and bad fields", patchCall(`{"rate": 100, "paused": true, "max_active": 0}`), 400, "invalid", []string{"max_active", "paused", "rate"}},
		{"read-only field", patchCall(`{"version": 99}`), 400, "invalid", []string{"version"}},
		// the request itself
		{"empty object", patchCall(`{}`), 400, "invalid", nil},
		{"not JSON", patchCall(`rate_per_minute=5`), 400, "invalid", nil},
		{"an array", patchCall(`[{"rate_per_minute": 5}]`), 400, "invalid", nil},
		{"two objects", patchCall(`{"rate_per_minute": 5} {"max_active": 5}`), 400, "invalid", nil},
		{"truncated", patchCall(`{"rate_per_minute": 5`), 400, "invalid", nil},
		{"no body", patchCall(``), 415, "unsupported_media_type", nil},
		{"wrong content type", adminCall{method: http.MethodPatch, path: festivalPath, body: `{"rate_per_minute": 5}`, contentType: "text/plain"}, 415, "unsupported_media_type", nil},
		{"form content type", adminCall{method: http.MethodPatch, path: festivalPath, body: `rate_per_minute=5`, contentType: "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", nil},
		{"no content type", adminCall{method: http.MethodPatch, path: festivalPath, body: `{"rate_per_minute": 5}`, contentType: "-"}, 415, "unsupported_media_type", nil},
		{"oversized body", patchCall(big), 413, "too_large", nil},
		{"garbage If-Match", adminCall{method: http.MethodPatch, path: festivalPath, body: `{"rate_per_minute": 5}`, ifMatch: `"seven"`}, 400, "invalid", nil},
		{"unknown room", patchCallTo("nowhere", `{"rate_per_minute": 5}`), 404, "unknown_room", nil},
		{"bad room name", patchCallTo("Bad_Name", `{"rate_per_minute": 5}`), 400, "bad_room", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// given
			before, auditBefore := h.snapshot()
			// when
			r := h.call(tt.call)
			// expect
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			e := r.errBody(t)
			if e.Code != tt.wantCode || e.Message == "" {
				t.Errorf("error %+v, want code %q and a message", e, tt.wantCode)
			}
			got := make([]string, 0, len(e.Fields))
			for k, msg := range e.Fields {
				got = append(got, k)
				if msg == "" {
					t.Errorf("field %s named without a message", k)
				}
			}
			sort.Strings(got)
			if len(got) != len(tt.wantFields) || (len(got) > 0 && !reflect.DeepEqual(got, tt.wantFields)) {
				t.Errorf("fields %v, want %v (%s)", got, tt.wantFields, r.body)
			}
			h.unchanged(t, tt.name, before, auditBefore)
		})
	}
}

func patchCall(body string) adminCall { return patchCallTo(testRoom, body) }

func patchCallTo(room, body string) adminCall {
	return adminCall{method: http.MethodPatch, path: adminPath + "/rooms/" + room, body: body}
}

// TestAdminVersionConflict: two organisers read version v; the first change lands, the second,
// sent with If-Match: "v", gets 409 and changes nothing. If-Match is optional.
func TestAdminVersionConflict(t *testing.T) {
	t.Parallel()
	h := newAdminHarness(t)
	v := h.stored(testRoom).Version
	tag := func(n int64) string { return strconv.Quote(strconv.FormatInt(n, 10)) }

	// given both organisers read version v; when the first changes the rate
	r := h.call(adminCall{method: http.MethodPatch, path: festivalPath, body: `{"rate_per_minute": 300}`, ifMatch: tag(v)})
	if r.status != http.StatusOK || r.room(t).Settings.Version != v+1 {
		t.Fatalf("first change: %d %s", r.status, r.body)
	}
	// and the second, still at v, changes the cap
	before, auditBefore := h.snapshot()
	r = h.call(adminCall{method: http.MethodPatch, path: festivalPath, body: `{"max_active": 3}`, ifMatch: tag(v), auth: "Bearer " + secondAdminTok})
	// expect 409 and nothing changed
	if r.status != http.StatusConflict || r.errBody(t).Code != "version_conflict" {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	h.unchanged(t, "a stale If-Match", before, auditBefore)
	if st := h.stored(testRoom); st.RatePerMinute != 300 || st.MaxActive == 3 {
		t.Fatalf("after the conflict: rate %d, cap %d", st.RatePerMinute, st.MaxActive)
	}

	// a version from the future is just as stale
	r = h.call(adminCall{method: http.MethodPatch, path: festivalPath, body: `{"max_active": 3}`, ifMatch: tag(v + 5)})
	if r.status != http.StatusConflict {
		t.Fatalf("future If-Match: %d %s", r.status, r.body)
	}
	h.unchanged(t, "a future If-Match", before, auditBefore)

	// re-read, retry with the current version: it lands; the weak form and * are accepted too
	cur := h.stored(testRoom).Version
	for i, im := range []string{tag(cur), "W/" + tag(cur+1), "*", ""} {
		r = h.call(adminCall{method: http.MethodPatch, path: festivalPath, body: fmt.Sprintf(`{"max_active": %d}`, 3+i), ifMatch: im})
		if r.status != http.StatusOK {
			t.Fatalf("If-Match %q: %d %s", im, r.status, r.body)
		}
		if st := h.stored(testRoom); st.MaxActive != 3+i || st.Version != cur+int64(i)+1 {
			t.Fatalf("If-Match %q: cap %d version %d", im, st.MaxActive, st.Version)
		}
	}
}

// TestAdminTokens: without a valid admin token every admin endpoint answers 401 with a
// WWW-Authenticate challenge, and a PATCH changes nothing. Cookies are not credentials.
func TestAdminTokens(t *testing.T) {
	t.Parallel()
	h := newAdminHarness(t)
	tests := []struct {
		name string
		auth string // Authorization header; "-" for none
	}{
		{"no header", "-"},
		{"empty bearer", "Bearer "},
		{"bearer without a space", "Bearer" + testAdminToken},
		{"basic auth", "Basic dGVzdGVyOnRlc3QtYWRtaW4tdG9rZW4tMDEyMzQ1Njc4OQ=="},
		{"the token without a scheme", testAdminToken},
		{"wrong token", "Bearer not-the-admin-token-at-all"},
		{"a prefix of the token", "Bearer " + testAdminToken[:len(testAdminToken)-1]},
		{"the token and more", "Bearer " + testAdminToken + "x"},
		{"the token with a space inside", "Bearer " + testAdminToken[:8] + " " + testAdminToken[8:]},
		{"two tokens", "Bearer " + testAdminToken + ", Bearer " + secondAdminTok},
		{"oversized", "Bearer " + strings.Repeat("a", 4096)},
		{"garbage bytes", "Bearer \xff\xfe\x80" + testAdminToken},
		{"a visitor's admission token shape", "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln"},
	}
	calls := []adminCall{
		{method: http.MethodGet, path: adminPath + "/rooms"},
		{method: http.MethodGet, path: festivalPath},
		{method: http.MethodGet, path: festivalPath + "/history"},
		{method: http.MethodGet, path: adminPath + "/audit"},
		{method: http.MethodPatch, path: festivalPath, body: `{"rate_per_minute": 1, "state": "closed"}`},
		{method: http.MethodPatch, path: adminPath + "/rooms/nowhere", body: `{"state": "closed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, auditBefore := h.snapshot()
			for _, c := range calls {
				c.auth = tt.auth
				r := h.call(c)
				if r.status != http.StatusUnauthorized {
					t.Fatalf("%s %s: status %d, want 401: %s", c.method, c.path, r.status, r.body)
				}
				if e := r.errBody(t); e.Code != "unauthorized" {
					t.Errorf("%s %s: code %q", c.method, c.path, e.Code)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("%s %s: WWW-Authenticate %q", c.method, c.path, r.header.Get("WWW-Authenticate"))
				}
				if strings.Contains(string(r.body), testAdminToken) || strings.Contains(string(r.body), "festival") {
					t.Errorf("%s %s: the 401 leaks something: %s", c.method, c.path, r.body)
				}
			}
			h.unchanged(t, tt.name, before, auditBefore)
		})
	}

	t.Run("cookies are not credentials", func(t *testing.T) {
		before, auditBefore := h.snapshot()
		req, _ := http.NewRequest(http.MethodPatch, h.srv.URL+festivalPath, strings.NewReader(`{"state":"closed"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", "foyer_admin_token="+testAdminToken+"; Authorization=Bearer%20"+testAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
		h.unchanged(t, "a cookie", before, auditBefore)
	})

	t.Run("scheme is case-insensitive", func(t *testing.T) {
		r := h.call(adminCall{method: http.MethodGet, path: festivalPath, auth: "bearer " + testAdminToken})
		if r.status != http.StatusOK {
			t.Fatalf("lower-case bearer: %d %s", r.status, r.body)
		}
	})

	t.Run("every configured token works", func(t *testing.T) {
		for _, tok := range []string{testAdminToken, secondAdminTok} {
			r := h.call(adminCall{method: http.MethodGet, path: adminPath + "/rooms", auth: "Bearer " + tok})
			if r.status != http.StatusOK {
				t.Fatalf("token %q…: %d", tok[:6], r.status)
			}
		}
	})
}

// TestAdminAudit: each change is recorded with the token's name as actor, the settings before
// and after, newest first; refused changes are not recorded; the log is bounded.
func TestAdminAudit(t *testing.T) {
	t.Parallel()
	h := newAdminHarness(t)
	start := time.Now().Add(-time.Second)
	given := []struct {
		auth, body string
	}{
		{"Bearer " + testAdminToken, `{"rate_per_minute": 111}`},
		{"Bearer " + secondAdminTok, `{"max_active": 22, "state": "paused"}`},
		{"Bearer " + testAdminToken, `{"rate_per_minute": 0}`}, // refused: not recorded
		{"Bearer wrong-token-wrong-token", `{"rate_per_minute": 5}`},
		{"Bearer " + secondAdminTok, `{"state": "open"}`},
	}
	v0 := h.stored(testRoom).Version
	for _, g := range given {
		h.call(adminCall{method: http.MethodPatch, path: festivalPath, body: g.body, auth: g.auth})
	}

	var out struct {
		Entries []auditEntry `json:"entries"`
	}
	r := h.call(adminCall{method: http.MethodGet, path: adminPath + "/audit"})
	if r.status != http.StatusOK {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		actor         string
		before, after func(adminSettings) bool
	}{
		{secondAdmin, func(s adminSettings) bool { return s.State == "paused" }, func(s adminSettings) bool { return s.State == "open" && s.MaxActive == 22 }},
		{secondAdmin, func(s adminSettings) bool { return s.State == "open" && s.RatePerMinute == 111 && s.MaxActive == 100 },
			func(s adminSettings) bool { return s.State == "paused" && s.MaxActive == 22 && s.RatePerMinute == 111 }},
		{"tester", func(s adminSettings) bool { return s.RatePerMinute == 600 }, func(s adminSettings) bool { return s.RatePerMinute == 111 }},
	}
	if len(out.Entries) != len(want) {
		t.Fatalf("%d audit entries, want %d: %s", len(out.Entries), len(want), r.body)
	}
	for i, w := range want {
		e := out.Entries[i]
		if e.Actor != w.actor || e.Room != testRoom || !w.before(e.Before) || !w.after(e.After) {
			t.Errorf("entry %d (newest first): %+v, want actor %s and the change", i, e, w.actor)
		}
		if e.After.Version != v0+int64(len(want)-i) || e.Before.Version != e.After.Version-1 {
			t.Errorf("entry %d: versions %d -> %d", i, e.Before.Version, e.After.Version)
		}
		if e.At.Before(start) || e.At.After(time.Now().Add(time.Second)) {
			t.Errorf("entry %d at %s", i, e.At)
		}
	}

	// limit
	r = h.call(adminCall{method: http.MethodGet, path: adminPath + "/audit?limit=1"})
	if err := json.Unmarshal(r.body, &out); err != nil || len(out.Entries) != 1 || out.Entries[0].After.State != "open" {
		t.Fatalf("limit=1: %s", r.body)
	}
	for _, bad := range []string{"0", "-1", "1001", "ten", "1e3"} {
		r = h.call(adminCall{method: http.MethodGet, path: adminPath + "/audit?limit=" + bad})
		if r.status != http.StatusBadRequest || r.errBody(t).Fields["limit"] == "" {
			t.Errorf("limit=%s: %d %s", bad, r.status, r.body)
		}
	}

	// bounded: fill the log to its bound with filler, change once more; the oldest goes
	ctx := context.Background()
	key := h.prefix + ":{" + testRoom + "}:audit"
	pipe := h.rdb.Pipeline()
	for i := 0; i < queue.AuditMax; i++ {
		pipe.LPush(ctx, key, fmt.Sprintf(`%d {"actor":"filler-%d"}`, 1+i, i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if r := h.call(patchCall(`{"rate_per_minute": 112}`)); r.status != http.StatusOK {
		t.Fatalf("patch: %d", r.status)
	}
	if n := h.rdb.LLen(ctx, key).Val(); n != queue.AuditMax {
		t.Fatalf("audit log holds %d entries, want the bound %d", n, queue.AuditMax)
	}
	r = h.call(adminCall{method: http.MethodGet, path: adminPath + "/audit?limit=1000"})
	if err := json.Unmarshal(r.body, &out); err != nil || len(out.Entries) != 1000 {
		t.Fatalf("limit=1000: %d entries, %v", len(out.Entries), err)
	}
	if out.Entries[0].Actor != "tester" || out.Entries[0].After.RatePerMinute != 112 || out.Entries[1].Actor != fmt.Sprintf("filler-%d", queue.AuditMax-1) {
		t.Fatalf("newest entries: %+v, %+v", out.Entries[0], out.Entries[1])
	}
	if last := h.rdb.LIndex(ctx, key, -1).Val(); strings.Contains(last, "open") {
		t.Fatalf("the oldest real entries should be gone, found %s", last)
	}
}

// TestAdminReadShapes: GET rooms, room and history answer the JSON shapes of the contract.
func TestAdminReadShapes(t *testing.T) {
	t.Parallel()
	h := newAdminHarness(t)
	v := h.visitor()
	v.join(testRoom) // someone in the line, so the figures are not all zero
	keys := func(t *testing.T, what string, m map[string]any, want ...string) {
		t.Helper()
		for _, k := range want {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: no %q in %v", what, k, m)
			}
		}
	}
	checkRoom := func(t *testing.T, m map[string]any) {
		t.Helper()
		keys(t, "room", m, "name", "display_name", "state", "mode", "paths", "settings", "live", "backend", "eta_clear_seconds")
		settings, _ := m["settings"].(map[string]any)
		keys(t, "settings", settings, "rate_per_minute", "max_active", "session_seconds", "opens_at", "state", "version")
		live, _ := m["live"].(map[string]any)
		keys(t, "live", live, "waiting", "joined", "admitted", "active", "offers", "skipped", "returned", "released",
			"admitted_per_minute", "joins_per_minute", "store_ok")
		released, _ := live["released"].(map[string]any)
		keys(t, "released", released, "booked", "abandoned", "failed")
		if m["mode"] == "proxy" {
			backend, _ := m["backend"].(map[string]any)
			keys(t, "backend", backend, "p50_ms", "p95_ms", "error_rate", "requests_per_minute")
		}
	}
	getJSON := func(t *testing.T, path string) map[string]any {
		t.Helper()
		r := h.call(adminCall{method: http.MethodGet, path: path})
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET %s: %d %s %s", path, r.status, r.header.Get("Content-Type"), r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", path, r.header.Get("Cache-Control"))
		}
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	t.Run("rooms", func(t *testing.T) {
		m := getJSON(t, adminPath+"/rooms")
		rooms, _ := m["rooms"].([]any)
		if len(rooms) != 2 {
			t.Fatalf("%d rooms: %v", len(rooms), m)
		}
		var names []string
		for _, r := range rooms {
			rm, _ := r.(map[string]any)
			checkRoom(t, rm)
			names = append(names, fmt.Sprint(rm["name"]))
		}
		if !reflect.DeepEqual(names, []string{testRoom, laterRoom}) && !reflect.DeepEqual(names, []string{laterRoom, testRoom}) {
			t.Errorf("rooms %v", names)
		}
		if !sort.StringsAreSorted(names) {
			t.Errorf("rooms not sorted by name: %v", names)
		}
	})

	t.Run("room", func(t *testing.T) {
		m := getJSON(t, festivalPath)
		checkRoom(t, m)
		var a adminRoom
		b, _ := json.Marshal(m)
		_ = json.Unmarshal(b, &a)
		if a.Name != testRoom || a.Mode != "proxy" || !reflect.DeepEqual(a.Paths, []string{"/book/"}) || a.State != "open" ||
			a.Settings.RatePerMinute != 600 || a.Settings.MaxActive != 100 || a.Settings.SessionSeconds != 600 ||
			a.Settings.Version < 1 || a.Live.Joined != 1 || !a.Live.StoreOK || a.Backend == nil {
			t.Errorf("room %s", b)
		}
		// one visitor waiting (queue_all) at 600/min, 100 slots free: the rate binds, a second
		if a.Live.Waiting > 1 || a.ETAClearSeconds != a.Live.Waiting ||
			(a.Live.Waiting == 1 && (a.Clear.Limit != "rate" || a.Clear.PerMinute != 600)) {
			t.Errorf("waiting %d, eta_clear_seconds %d, clear %+v", a.Live.Waiting, a.ETAClearSeconds, a.Clear)
		}
		g := getJSON(t, adminPath+"/rooms/"+laterRoom)
		if g["display_name"] != "Gala screening" || g["state"] != "prequeue" && g["state"] != "scheduled" {
			t.Errorf("later room: %v %v", g["display_name"], g["state"])
		}
		if s, _ := g["settings"].(map[string]any); !strings.HasSuffix(fmt.Sprint(s["opens_at"]), "+09:00") {
			t.Errorf("opens_at %v, want Seoul time", s["opens_at"])
		}
	})

	t.Run("history", func(t *testing.T) {
		// the gateways record a busy room once a second, an idle one every obsIdleEvery:
		// wait for two samples
		var samples []any
		deadline := time.Now().Add(3 * obsIdleEvery)
		for len(samples) < 2 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			h.visitor().join(testRoom) // the line changes: an unchanged room stores no new sample
			samples, _ = getJSON(t, festivalPath+"/history")["samples"].([]any)
		}
		if len(samples) < 2 {
			t.Fatalf("%d samples after %v", len(samples), 3*obsIdleEvery)
		}
		var prev float64
		for i, s := range samples {
			m, _ := s.(map[string]any)
			keys(t, "sample", m, "t", "waiting", "joins_per_minute", "admitted_per_minute", "rate_per_minute", "active",
				"max_active", "skipped", "returned", "backend_p50_ms", "backend_p95_ms", "backend_error_rate")
			tt, _ := m["t"].(float64)
			if i > 0 && tt <= prev {
				t.Errorf("samples not oldest first: %v after %v", tt, prev)
			}
			prev = tt
			if m["rate_per_minute"] != 600.0 || m["max_active"] != 100.0 {
				t.Errorf("sample %v", m)
			}
		}
		// since: only newer samples
		since := int64(prev) - 1
		later, _ := getJSON(t, fmt.Sprintf("%s/history?since=%d", festivalPath, since))["samples"].([]any)
		for _, s := range later {
			if tt := s.(map[string]any)["t"].(float64); int64(tt) <= since {
				t.Errorf("since=%d returned t=%v", since, tt)
			}
		}
		if len(later) < 1 {
			t.Errorf("since=%d: no samples", since)
		}
		if e := getJSON(t, fmt.Sprintf("%s/history?since=%d", festivalPath, time.Now().Unix()+60)); len(e["samples"].([]any)) != 0 {
			t.Errorf("future since: %v", e)
		}
		r := h.call(adminCall{method: http.MethodGet, path: festivalPath + "/history?since=yesterday"})
		if r.status != http.StatusBadRequest || r.errBody(t).Fields["since"] == "" {
			t.Errorf("bad since: %d %s", r.status, r.body)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			path   string
			status int
			code   string
		}{
			{adminPath + "/rooms/nowhere", 404, "unknown_room"},
			{adminPath + "/rooms/Bad_Name", 400, "bad_room"},
			{adminPath + "/rooms/nowhere/history", 404, "unknown_room"},
		} {
			r := h.call(adminCall{method: http.MethodGet, path: c.path})
			if r.status != c.status || r.errBody(t).Code != c.code {
				t.Errorf("GET %s: %d %s", c.path, r.status, r.body)
			}
		}
	})
}
