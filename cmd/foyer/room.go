package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foyerhq/foyer/gateway"
)

func init() {
	register("room", command{summary: "steer rooms through the admin API: list, get, create, set, pause, resume, close, delete, audit", run: runRoom})
}

const roomUsage = `usage: foyer room [flags] <command> [arguments]

Talks to a running gateway's admin API (the same API as the dashboard).

commands:
  list                          every room: state, line, rate, sessions
  get NAME                      one room's settings and live figures
  set NAME key=value...         change settings; keys: rate (rate_per_minute), max_active,
                                session_seconds (or session=15m), max_session_seconds (or
                                max_session=1h), absent_after_seconds (or absent_after=2m),
                                grace_seconds (or grace=30m), opens_at, prequeue_opens_at
                                (RFC 3339), state, queue_all (true|false), on_store_error,
                                reentry_share (0..1; 0 turns second chances off),
                                proof_of_work (off|auto|on; or pow), pow_difficulty (bits)
  pause NAME                    stop admitting; waiting visitors keep their place
  resume NAME                   admit again (state open)
  close NAME                    end the sale: nobody new joins or is admitted
  audit                         who changed what, newest first
  create NAME --template T [--display-name D] [key=value...]
                                a room at runtime from one of the configuration's
                                room_templates; key=value as for set overrides its settings
  delete NAME                   close a room created at runtime and remove it: its waiting
                                visitors are told it is closed; every replica stops serving it

flags (anywhere on the line):
`

// roomCLI is one invocation of foyer room.
type roomCLI struct {
	base, token string
	asJSON      bool
	ifVersion   int64
	limit       int
	template    string // create
	display     string // create
	client      *http.Client
	stdout      io.Writer
	stderr      io.Writer
}

func runRoom(args []string, stdout, stderr io.Writer) int {
	c := &roomCLI{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("room", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defURL := os.Getenv("FOYER_URL")
	if defURL == "" {
		defURL = "http://127.0.0.1:8080"
	}
	rawURL := fs.String("url", defURL, "the gateway's base `URL` (env FOYER_URL)")
	fs.StringVar(&c.token, "token", os.Getenv("FOYER_ADMIN_TOKEN"), "admin `token`, as name:token or bare (env FOYER_ADMIN_TOKEN, the same value `foyer serve` takes; prefer the environment: flags show in process lists)")
	prefix := fs.String("prefix", "/foyer", "the gateway's path prefix")
	fs.BoolVar(&c.asJSON, "json", false, "print the API's JSON instead of a table")
	fs.Int64Var(&c.ifVersion, "if-version", 0, "change only if the settings are still at this `version` (optimistic concurrency)")
	fs.IntVar(&c.limit, "limit", 20, "audit: how many entries (1..1000)")
	fs.StringVar(&c.template, "template", "", "create: the room `template` (room_templates in the configuration)")
	fs.StringVar(&c.display, "display-name", "", "create: the room's display `name` (default: the template's)")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of each request")
	fs.Usage = func() {
		fmt.Fprint(stderr, roomUsage)
		fs.PrintDefaults()
	}
	// Flags may come before, between or after the positional arguments.
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	u, err := url.Parse(*rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "foyer room: --url must be an http(s) URL, got %q\n", *rawURL)
		return 2
	}
	if *prefix != "" && !strings.HasPrefix(*prefix, "/") {
		fmt.Fprintf(stderr, "foyer room: --prefix must start with /, got %q\n", *prefix)
		return 2
	}
	c.base = strings.TrimRight(u.String(), "/") + strings.TrimRight(*prefix, "/") + "/admin/v1"
	if c.token == "" {
		fmt.Fprintln(stderr, "foyer room: no admin token: set FOYER_ADMIN_TOKEN (or --token)")
		return 2
	}
	c.token = gateway.ParseAdminToken(c.token).Token // one meaning everywhere: [name:]token
	c.client = &http.Client{Timeout: *timeout}

	sub, rargs := pos[0], pos[1:]
	need := func(n int, what string) bool {
		if len(rargs) != n {
			fmt.Fprintf(stderr, "usage: foyer room %s\n", what)
			return false
		}
		return true
	}
	switch sub {
	case "list", "ls":
		if !need(0, "list") {
			return 2
		}
		return c.list()
	case "get", "show":
		if !need(1, "get NAME") {
			return 2
		}
		return c.get(rargs[0])
	case "set":
		if len(rargs) < 2 {
			fmt.Fprintln(stderr, "usage: foyer room set NAME key=value... (keys: rate, max_active, session_seconds, opens_at, state)")
			return 2
		}
		body, err := parseAssignments(rargs[1:])
		if err != nil {
			fmt.Fprintln(stderr, "foyer room set:", err)
			return 2
		}
		return c.patch(rargs[0], body)
	case "pause", "resume", "close":
		if !need(1, sub+" NAME") {
			return 2
		}
		state := map[string]string{"pause": "paused", "resume": "open", "close": "closed"}[sub]
		return c.patch(rargs[0], map[string]any{"state": state})
	case "audit":
		if !need(0, "audit [--limit N]") {
			return 2
		}
		return c.audit()
	case "create":
		return c.create(rargs) // roomcreate.go
	case "delete", "rm":
		if !need(1, "delete NAME") {
			return 2
		}
		return c.delete(rargs[0])
	default:
		fmt.Fprintf(stderr, "foyer room: unknown command %q\n\n", sub)
		fs.Usage()
		return 2
	}
}

// setKeys maps the keys `set` accepts to the API's fields.
var setKeys = map[string]string{
	"rate": "rate_per_minute", "rate_per_minute": "rate_per_minute",
	"max_active": "max_active", "cap": "max_active",
	"session_seconds": "session_seconds", "session": "session_seconds",
	"max_session_seconds": "max_session_seconds", "max_session": "max_session_seconds",
	"absent_after_seconds": "absent_after_seconds", "absent_after": "absent_after_seconds",
	"grace_seconds": "grace_seconds", "grace": "grace_seconds",
	"opens_at": "opens_at", "prequeue_opens_at": "prequeue_opens_at", "state": "state",
	"queue_all": "queue_all", "on_store_error": "on_store_error",
	"proof_of_work": "proof_of_work", "pow": "proof_of_work", "pow_difficulty": "pow_difficulty",
	"reentry_share": "reentry_share",
}

// durationKeys are the short keys that take a Go duration (session=15m) for a *_seconds field.
var durationKeys = map[string]bool{"session": true, "max_session": true, "absent_after": true, "grace": true}

// parseAssignments turns key=value arguments into a PATCH body. Whole numbers go as JSON
// numbers and anything else as strings, so the API, not this tool, judges the values and
// names each bad one.
func parseAssignments(args []string) (map[string]any, error) {
	body := map[string]any{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", a)
		}
		field, known := setKeys[k]
		if !known {
			return nil, fmt.Errorf("unknown key %q; use rate, max_active, session_seconds (or session), max_session_seconds, absent_after_seconds, grace_seconds, opens_at, prequeue_opens_at, state, queue_all, on_store_error, reentry_share, proof_of_work, pow_difficulty", k)
		}
		if _, dup := body[field]; dup {
			return nil, fmt.Errorf("%s given twice", field)
		}
		switch field {
		case "opens_at", "prequeue_opens_at", "state", "on_store_error", "proof_of_work":
			body[field] = v
		case "reentry_share":
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				body[field] = f
			} else {
				body[field] = v // the API names it
			}
		case "queue_all":
			if b, err := strconv.ParseBool(v); err == nil {
				body[field] = b
			} else {
				body[field] = v // the API names it
			}
		default:
			if d, err := time.ParseDuration(v); err == nil && durationKeys[k] {
				body[field] = int64(d / time.Second)
				continue
			}
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				body[field] = n
			} else {
				body[field] = v
			}
		}
	}
	return body, nil
}

// apiError is the admin API's error body.
type apiError struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// do sends one request and returns the body of a 2xx answer; otherwise it prints the API's
// error (each bad field on its own line) and returns false.
func (c *roomCLI) do(method, path string, body any, hdr map[string]string) ([]byte, bool) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			fmt.Fprintln(c.stderr, "foyer room:", err)
			return nil, false
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	if err != nil {
		fmt.Fprintln(c.stderr, "foyer room:", err)
		return nil, false
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "foyer-room/"+version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		fmt.Fprintf(c.stderr, "foyer room: %s %s: %v\n", method, c.base+path, errors.Unwrap(err))
		return nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		fmt.Fprintln(c.stderr, "foyer room: read the answer:", err)
		return nil, false
	}
	if resp.StatusCode/100 == 2 {
		return b, true
	}
	var e apiError
	if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
		fmt.Fprintf(c.stderr, "foyer room: %s %s: HTTP %d (is --url a foyer gateway and --prefix its prefix?)\n", method, c.base+path, resp.StatusCode)
		return nil, false
	}
	fmt.Fprintf(c.stderr, "foyer room: %s (%s, HTTP %d)\n", e.Error.Message, e.Error.Code, resp.StatusCode)
	fields := make([]string, 0, len(e.Error.Fields))
	for f := range e.Error.Fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		fmt.Fprintf(c.stderr, "  %s: %s\n", f, e.Error.Fields[f])
	}
	switch {
	case e.Error.Code == "not_found":
		fmt.Fprintln(c.stderr, "  no admin API at "+c.base+": is --url the gateway and --prefix its prefix?")
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		fmt.Fprintln(c.stderr, "  check FOYER_ADMIN_TOKEN (or --token): it must be one of the gateway's admin.tokens")
	case resp.StatusCode == http.StatusConflict:
		fmt.Fprintln(c.stderr, "  read the room again (foyer room get NAME) and retry with its version")
	}
	return nil, false
}

// roomJSON is the admin API's room, as far as this tool shows it.
type roomJSON struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	State       string   `json:"state"`
	Mode        string   `json:"mode"`
	Paths       []string `json:"paths"`
	Settings    struct {
		RatePerMinute  int    `json:"rate_per_minute"`
		MaxActive      int    `json:"max_active"`
		SessionSeconds int64  `json:"session_seconds"`
		OpensAt        string `json:"opens_at"`
		State          string `json:"state"`
		Version        int64  `json:"version"`
	} `json:"settings"`
	Live struct {
		Waiting           int64            `json:"waiting"`
		Joined            int64            `json:"joined"`
		Admitted          int64            `json:"admitted"`
		Active            int64            `json:"active"`
		Offers            int64            `json:"offers"`
		Skipped           int64            `json:"skipped"`
		Returned          int64            `json:"returned"`
		Released          map[string]int64 `json:"released"`
		AdmittedPerMinute float64          `json:"admitted_per_minute"`
		JoinsPerMinute    float64          `json:"joins_per_minute"`
		StoreOK           bool             `json:"store_ok"`
	} `json:"live"`
	Backend *struct {
		P50ms             float64 `json:"p50_ms"`
		P95ms             float64 `json:"p95_ms"`
		ErrorRate         float64 `json:"error_rate"`
		RequestsPerMinute float64 `json:"requests_per_minute"`
		Requests          int64   `json:"requests"`
	} `json:"backend"`
	ETAClearSeconds int64 `json:"eta_clear_seconds"`
	Clear           struct {
		Limit string `json:"limit"`
	} `json:"clear"`
	Adaptive *struct {
		MinRate    int    `json:"min_rate"`
		MaxRate    int    `json:"max_rate"`
		LastReason string `json:"last_reason"`
	} `json:"adaptive"`
}

func (c *roomCLI) printJSON(b []byte) int {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		fmt.Fprintln(c.stderr, "foyer room: the answer is not JSON:", err)
		return 1
	}
	buf.WriteByte('\n')
	_, _ = c.stdout.Write(buf.Bytes())
	return 0
}

func roomPath(name string) string { return "/rooms/" + url.PathEscape(name) }

func (c *roomCLI) list() int {
	b, ok := c.do(http.MethodGet, "/rooms", nil, nil)
	if !ok {
		return 1
	}
	if c.asJSON {
		return c.printJSON(b)
	}
	var out struct {
		Rooms []roomJSON `json:"rooms"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		fmt.Fprintln(c.stderr, "foyer room: unexpected answer:", err)
		return 1
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROOM\tSTATE\tWAITING\tADMITTED/MIN\tRATE/MIN\tACTIVE\tCAP\tCLEARS IN\tVERSION")
	for _, r := range out.Rooms {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%d\t%d\t%d\t%s\t%d\n", r.Name, r.State, r.Live.Waiting, r.Live.AdmittedPerMinute,
			r.Settings.RatePerMinute, r.Live.Active, r.Settings.MaxActive, clears(r), r.Settings.Version)
	}
	_ = tw.Flush()
	return 0
}

// clears says how long the current line takes (at the rate, or at the cap's turnover when the
// cap binds: the gateway's clear.limit), or why it does not move.
func clears(r roomJSON) string {
	switch {
	case r.Live.Waiting == 0:
		return "-"
	case r.Clear.Limit == "paused" || r.Clear.Limit == "stalled" || r.Clear.Limit == "closed":
		return r.Clear.Limit
	case r.Clear.Limit == "cap":
		return (time.Duration(r.ETAClearSeconds) * time.Second).String() + " (cap)"
	}
	return (time.Duration(r.ETAClearSeconds) * time.Second).String()
}

func (c *roomCLI) get(name string) int {
	b, ok := c.do(http.MethodGet, roomPath(name), nil, nil)
	if !ok {
		return 1
	}
	if c.asJSON {
		return c.printJSON(b)
	}
	var r roomJSON
	if err := json.Unmarshal(b, &r); err != nil {
		fmt.Fprintln(c.stderr, "foyer room: unexpected answer:", err)
		return 1
	}
	c.printRoom(r)
	return 0
}

func (c *roomCLI) printRoom(r roomJSON) {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	s, l := r.Settings, r.Live
	name := r.Name
	if r.DisplayName != "" && r.DisplayName != r.Name {
		name += " (" + r.DisplayName + ")"
	}
	fmt.Fprintf(tw, "room\t%s\n", name)
	state := r.State
	if s.State != r.State {
		state += " (switch: " + s.State + ")"
	}
	fmt.Fprintf(tw, "state\t%s\n", state)
	fmt.Fprintf(tw, "mode\t%s %s\n", r.Mode, strings.Join(r.Paths, " "))
	fmt.Fprintf(tw, "rate_per_minute\t%d (admitted %.0f/min, joins %.0f/min)\n", s.RatePerMinute, l.AdmittedPerMinute, l.JoinsPerMinute)
	fmt.Fprintf(tw, "max_active\t%d (active %d, offers %d)\n", s.MaxActive, l.Active, l.Offers)
	fmt.Fprintf(tw, "session_seconds\t%d\n", s.SessionSeconds)
	opens := s.OpensAt
	if opens == "" {
		opens = "-"
	}
	fmt.Fprintf(tw, "opens_at\t%s\n", opens)
	fmt.Fprintf(tw, "version\t%d\n", s.Version)
	fmt.Fprintf(tw, "waiting\t%d (clears in %s)\n", l.Waiting, clears(r))
	fmt.Fprintf(tw, "totals\tjoined %d, admitted %d, skipped %d, returned %d\n", l.Joined, l.Admitted, l.Skipped, l.Returned)
	fmt.Fprintf(tw, "released\tbooked %d, abandoned %d, failed %d\n", l.Released["booked"], l.Released["abandoned"], l.Released["failed"])
	if b := r.Backend; b != nil && b.Requests == 0 {
		fmt.Fprintf(tw, "backend\tno requests in the last 30 s\n")
	} else if b != nil {
		fmt.Fprintf(tw, "backend\tp50 %.0f ms, p95 %.0f ms, errors %.1f%%, %.0f requests/min\n", b.P50ms, b.P95ms, b.ErrorRate*100, b.RequestsPerMinute)
	}
	if a := r.Adaptive; a != nil {
		reason := a.LastReason
		if reason == "" {
			reason = "no change yet"
		}
		fmt.Fprintf(tw, "adaptive\t%d..%d/min; last: %s\n", a.MinRate, a.MaxRate, reason)
	}
	store := "ok"
	if !l.StoreOK {
		store = "UNREACHABLE"
	}
	fmt.Fprintf(tw, "store\t%s\n", store)
	_ = tw.Flush()
}

// patch changes a room: it reads the room first (to show what changed, and for --if-version
// to be checked by the API, not here), then sends the change.
func (c *roomCLI) patch(name string, body map[string]any) int {
	b, ok := c.do(http.MethodGet, roomPath(name), nil, nil)
	if !ok {
		return 1
	}
	var before roomJSON
	_ = json.Unmarshal(b, &before)
	hdr := map[string]string{}
	if c.ifVersion != 0 {
		hdr["If-Match"] = strconv.Quote(strconv.FormatInt(c.ifVersion, 10))
	}
	b, ok = c.do(http.MethodPatch, roomPath(name), body, hdr)
	if !ok {
		return 1
	}
	if c.asJSON {
		return c.printJSON(b)
	}
	var after roomJSON
	if err := json.Unmarshal(b, &after); err != nil {
		fmt.Fprintln(c.stderr, "foyer room: unexpected answer:", err)
		return 1
	}
	fields := make([]string, 0, len(body))
	for f := range body {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		fmt.Fprintf(c.stdout, "%s: %s %s -> %s\n", after.Name, f, settingText(before, f), settingText(after, f))
	}
	fmt.Fprintf(c.stdout, "%s: version %d -> %d, state %s\n", after.Name, before.Settings.Version, after.Settings.Version, after.State)
	return 0
}

func settingText(r roomJSON, field string) string {
	s := r.Settings
	switch field {
	case "rate_per_minute":
		return strconv.Itoa(s.RatePerMinute)
	case "max_active":
		return strconv.Itoa(s.MaxActive)
	case "session_seconds":
		return strconv.FormatInt(s.SessionSeconds, 10)
	case "opens_at":
		if s.OpensAt == "" {
			return "-"
		}
		return s.OpensAt
	case "state":
		return s.State
	}
	return "?"
}

func (c *roomCLI) audit() int {
	if c.limit < 1 || c.limit > 1000 {
		fmt.Fprintln(c.stderr, "foyer room audit: --limit must be 1..1000")
		return 2
	}
	b, ok := c.do(http.MethodGet, "/audit?limit="+strconv.Itoa(c.limit), nil, nil)
	if !ok {
		return 1
	}
	if c.asJSON {
		return c.printJSON(b)
	}
	var out struct {
		Entries []struct {
			At     time.Time       `json:"at"`
			Actor  string          `json:"actor"`
			Room   string          `json:"room"`
			Reason string          `json:"reason"`
			Before json.RawMessage `json:"before"`
			After  json.RawMessage `json:"after"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		fmt.Fprintln(c.stderr, "foyer room: unexpected answer:", err)
		return 1
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tACTOR\tROOM\tCHANGE")
	for _, e := range out.Entries {
		var before, after map[string]any
		_ = json.Unmarshal(e.Before, &before)
		_ = json.Unmarshal(e.After, &after)
		var changes []string
		for _, f := range []string{"rate_per_minute", "max_active", "session_seconds", "opens_at", "state"} {
			if fmt.Sprint(before[f]) != fmt.Sprint(after[f]) {
				changes = append(changes, fmt.Sprintf("%s %v -> %v", f, before[f], after[f]))
			}
		}
		if len(changes) == 0 {
			changes = append(changes, "no change")
		}
		change := strings.Join(changes, ", ")
		if e.Reason != "" {
			change += " (" + e.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Actor, e.Room, change)
	}
	_ = tw.Flush()
	return 0
}
