package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/gateway"
	"github.com/foyerhq/foyer/queue/redistest"
)

const roomTestToken = "room-cli-test-token-0123456789"

// startGateway runs a real gateway (serve, as `foyer serve` does) over the test Redis, with
// one room "festival" and one admin token, and returns its base URL.
func startGateway(t *testing.T) string {
	t.Helper()
	db := redistest.New(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(backend.Close)
	cfg := gateway.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Redis.Prefix = db.Prefix
	cfg.Tokens.KeyDir = t.TempDir()
	cfg.Admin.Tokens = []gateway.AdminToken{{Name: "script", Token: roomTestToken}}
	cfg.Rooms = []gateway.RoomConfig{{Name: "festival", DisplayName: "BIFF 2026", Paths: []string{"/book/"}, Backend: backend.URL,
		RatePerMinute: 600, MaxActive: 100}}
	cfg.RoomTemplates = []gateway.RoomConfig{{Name: "screening", DisplayName: "Screening {room}", Paths: []string{"/screen/{room}/"},
		Backend: backend.URL, RatePerMinute: 60, MaxActive: 10}} // roomcreate_test.go
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, db.Client, zerolog.Nop(), ready) }()
	t.Cleanup(func() { cancel(); <-done })
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not start")
	}
	base := "http://" + addr
	// rooms are created in the background: wait for the room to answer
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/foyer/admin/v1/rooms/festival", nil)
		req.Header.Set("Authorization", "Bearer "+roomTestToken)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("room not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// roomRun runs `foyer room ARGS...` in-process.
func roomRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"room"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestRoomCommands: given a live gateway, when a script runs each foyer room command, then it
// gets the expected exit status and output, and the room changes (or not) as the output says.
func TestRoomCommands(t *testing.T) {
	base := startGateway(t)
	t.Setenv("FOYER_URL", "")
	t.Setenv("FOYER_ADMIN_TOKEN", "")
	auth := []string{"--url", base, "--token", roomTestToken}
	// current reads the room with the tool itself, in JSON.
	current := func(t *testing.T) map[string]any {
		t.Helper()
		code, out, errs := roomRun(append(auth, "--json", "get", "festival")...)
		if code != 0 {
			t.Fatalf("get --json: %d %s", code, errs)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("get --json printed %q: %v", out, err)
		}
		return m["settings"].(map[string]any)
	}
	version := func(t *testing.T) string { return jsonNum(current(t)["version"]) }

	tests := []struct {
		name     string
		args     func() []string // evaluated when the case runs (versions move)
		wantCode int
		stdout   []string // each must appear
		stderr   []string
		settings map[string]string // settings afterwards, as printed by fmt
	}{
		{"list", func() []string { return append(auth, "list") }, 0,
			[]string{"ROOM", "STATE", "festival", "open", "600", "100"}, nil, nil},
		{"get", func() []string { return append(auth, "get", "festival") }, 0,
			[]string{"festival (BIFF 2026)", "rate_per_minute  600", "max_active       100", "session_seconds  600", "version          1", "store            ok"}, nil, nil},
		{"get --json", func() []string { return append(auth, "get", "festival", "--json") }, 0,
			[]string{`"name": "festival"`, `"rate_per_minute": 600`}, nil, nil},
		{"list --json", func() []string { return append([]string{"--json"}, append(auth, "list")...) }, 0,
			[]string{`"rooms": [`}, nil, nil},
		{"set rate and cap", func() []string { return append(auth, "set", "festival", "rate=300", "max_active=50") }, 0,
			[]string{"festival: max_active 100 -> 50", "festival: rate_per_minute 600 -> 300", "version 1 -> 2"}, nil,
			map[string]string{"rate_per_minute": "300", "max_active": "50", "version": "2"}},
		{"set session as a duration", func() []string { return append(auth, "set", "festival", "session=15m") }, 0,
			[]string{"session_seconds 600 -> 900"}, nil, map[string]string{"session_seconds": "900"}},
		{"set session_seconds and the long key", func() []string {
			return append(auth, "set", "festival", "session_seconds=1200", "rate_per_minute=310")
		}, 0, []string{"session_seconds 900 -> 1200", "rate_per_minute 300 -> 310"}, nil, map[string]string{"session_seconds": "1200", "rate_per_minute": "310"}},
		{"bad values: the API's message for each field", func() []string {
			return append(auth, "set", "festival", "rate=0", "max_active=lots", "session_seconds=5")
		}, 1, nil,
			[]string{"nothing was changed (invalid, HTTP 400)", "  max_active: must be a whole number", "  rate_per_minute: must be between 1 and", "  session_seconds: must be whole seconds between 10 and"},
			map[string]string{"rate_per_minute": "310", "max_active": "50", "version": "4"}},
		{"opens_at after opening", func() []string { return append(auth, "set", "festival", "opens_at=2031-05-01T14:00:00+09:00") }, 1, nil,
			[]string{"opens_at: cannot change: the room has opened"}, map[string]string{"version": "4"}},
		{"stale --if-version", func() []string { return append(auth, "set", "festival", "rate=5", "--if-version", "1") }, 1, nil,
			[]string{"version_conflict, HTTP 409", "foyer room get NAME"}, map[string]string{"rate_per_minute": "310", "version": "4"}},
		{"current --if-version", func() []string {
			return append(auth, "--if-version", version(t), "set", "festival", "rate=320")
		}, 0, []string{"rate_per_minute 310 -> 320", "version 4 -> 5"}, nil, map[string]string{"rate_per_minute": "320"}},
		{"pause", func() []string { return append(auth, "pause", "festival") }, 0,
			[]string{"state open -> paused", "state paused"}, nil, map[string]string{"state": "paused"}},
		{"resume", func() []string { return append(auth, "resume", "festival") }, 0,
			[]string{"state paused -> open"}, nil, map[string]string{"state": "open"}},
		{"close", func() []string { return append(auth, "close", "festival") }, 0,
			[]string{"state open -> closed"}, nil, map[string]string{"state": "closed"}},
		{"set state", func() []string { return append(auth, "set", "festival", "state=open") }, 0,
			[]string{"state closed -> open"}, nil, map[string]string{"state": "open"}},
		{"audit", func() []string { return append(auth, "audit", "--limit", "3") }, 0,
			[]string{"ACTOR", "script  festival  state closed -> open", "state open -> closed", "state paused -> open"}, nil, nil},
		{"unknown room", func() []string { return append(auth, "get", "nowhere") }, 1, nil,
			[]string{"(unknown_room, HTTP 404)"}, nil},
		{"wrong token", func() []string { return []string{"--url", base, "--token", "not-the-token", "pause", "festival"} }, 1, nil,
			[]string{"(unauthorized, HTTP 401)", "FOYER_ADMIN_TOKEN"}, map[string]string{"state": "open"}},
		{"no token", func() []string { return []string{"--url", base, "list"} }, 2, nil, []string{"no admin token"}, nil},
		{"wrong prefix", func() []string { return append(auth, "--prefix", "/queue", "list") }, 1, nil,
			[]string{"HTTP 404", "--prefix"}, nil},
		{"nobody there", func() []string { return []string{"--url", "http://127.0.0.1:" + freePort(t), "--token", "x", "list"} }, 1, nil,
			[]string{"connection refused"}, nil},
		{"unknown key", func() []string { return append(auth, "set", "festival", "speed=5") }, 2, nil, []string{`unknown key "speed"`}, nil},
		{"not key=value", func() []string { return append(auth, "set", "festival", "rate") }, 2, nil, []string{"not key=value"}, nil},
		{"a key twice", func() []string { return append(auth, "set", "festival", "rate=5", "rate_per_minute=6") }, 2, nil, []string{"given twice"}, nil},
		{"set without changes", func() []string { return append(auth, "set", "festival") }, 2, nil, []string{"usage: foyer room set"}, nil},
		{"get without a name", func() []string { return append(auth, "get") }, 2, nil, []string{"usage: foyer room get NAME"}, nil},
		{"unknown command", func() []string { return append(auth, "frobnicate") }, 2, nil, []string{`unknown command "frobnicate"`, "usage: foyer room"}, nil},
		{"no command", func() []string { return auth }, 2, nil, []string{"usage: foyer room"}, nil},
		{"bad url", func() []string { return []string{"--url", "127.0.0.1:8080", "--token", "x", "list"} }, 2, nil, []string{"--url must be an http(s) URL"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := roomRun(tt.args()...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
			if tt.wantCode != 0 && out != "" {
				t.Errorf("a failure printed to stdout: %s", out)
			}
			if len(tt.settings) > 0 {
				st := current(t)
				for k, want := range tt.settings {
					if got := jsonNum(st[k]); got != want {
						t.Errorf("settings.%s = %s, want %s", k, got, want)
					}
				}
			}
		})
	}

	t.Run("environment defaults", func(t *testing.T) {
		t.Setenv("FOYER_URL", base+"/")
		t.Setenv("FOYER_ADMIN_TOKEN", roomTestToken)
		code, out, errs := roomRun("list")
		if code != 0 || !strings.Contains(out, "festival") {
			t.Fatalf("FOYER_URL and FOYER_ADMIN_TOKEN: %d %s %s", code, out, errs)
		}
	})

	// One meaning of FOYER_ADMIN_TOKEN: the "name:token" that `foyer serve` takes works here
	// too (it was sent whole as the bearer token and refused).
	t.Run("environment name:token", func(t *testing.T) {
		t.Setenv("FOYER_URL", base)
		t.Setenv("FOYER_ADMIN_TOKEN", "ops:"+roomTestToken)
		code, out, errs := roomRun("list")
		if code != 0 || !strings.Contains(out, "festival") {
			t.Fatalf("FOYER_ADMIN_TOKEN=name:token: %d %s %s", code, out, errs)
		}
		if got := gateway.ParseAdminToken("ops:" + roomTestToken); got.Name != "ops" || got.Token != roomTestToken {
			t.Fatalf("serve reads name:token as %+v", got)
		}
		if got := gateway.ParseAdminToken(roomTestToken); got.Name != "env" || got.Token != roomTestToken {
			t.Fatalf("serve reads a bare token as %+v", got)
		}
	})

	t.Run("help", func(t *testing.T) {
		code, _, errs := roomRun("-h")
		if code != 0 || !strings.Contains(errs, "pause NAME") || !strings.Contains(errs, "-if-version") {
			t.Fatalf("help: %d %s", code, errs)
		}
	})
}

// jsonNum prints a decoded JSON value the way the tests compare it: 300, not 300.0 or 3e+02.
func jsonNum(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	return "?"
}

// freePort is a loopback port nobody listens on (taken, then released).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestParseAssignments(t *testing.T) {
	tests := []struct {
		args    []string
		want    string // JSON
		wantErr string
	}{
		{[]string{"rate=300"}, `{"rate_per_minute":300}`, ""},
		{[]string{"cap=5", "session=10m", "state=paused"}, `{"max_active":5,"session_seconds":600,"state":"paused"}`, ""},
		{[]string{"session=90"}, `{"session_seconds":90}`, ""},
		{[]string{"session_seconds=15m"}, `{"session_seconds":"15m"}`, ""}, // the API names it: seconds only
		{[]string{"rate=fast"}, `{"rate_per_minute":"fast"}`, ""},          // the API names it
		{[]string{"opens_at=2026-10-01T14:00:00+09:00"}, `{"opens_at":"2026-10-01T14:00:00+09:00"}`, ""},
		{[]string{"rate="}, `{"rate_per_minute":""}`, ""},
		{[]string{"=5"}, "", "not key=value"},
		{[]string{"speed=5"}, "", "unknown key"},
		{[]string{"cap=5", "max_active=6"}, "", "given twice"},
		{[]string{"reentry_share=0.25"}, `{"reentry_share":0.25}`, ""},
		{[]string{"reentry_share=0"}, `{"reentry_share":0}`, ""},
		{[]string{"reentry_share=lots"}, `{"reentry_share":"lots"}`, ""}, // the API names it
	}
	for _, tt := range tests {
		got, err := parseAssignments(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		b, _ := json.Marshal(got)
		if err != nil || string(b) != tt.want {
			t.Errorf("%v: %s %v, want %s", tt.args, b, err, tt.want)
		}
	}
}

// Every live setting the admin API accepts can be set from the command line.
func TestRoomSetEveryLiveSetting(t *testing.T) {
	got, err := parseAssignments([]string{"grace=5m", "max_session=1h", "absent_after_seconds=45",
		"queue_all=true", "on_store_error=open", "prequeue_opens_at=2026-10-02T13:50:00+09:00"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"grace_seconds": int64(300), "max_session_seconds": int64(3600), "absent_after_seconds": int64(45),
		"queue_all": true, "on_store_error": "open", "prequeue_opens_at": "2026-10-02T13:50:00+09:00"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("body %v, want %v", got, want)
	}
}

// TestClearsSaysWhy: `foyer room list` shows the clear time the gateway computed, marked when
// the cap binds, and says why a line does not move instead of a time.
func TestClearsSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		waiting, secs int64
		limit, want   string
	}{
		{0, 0, "", "-"},
		{191, 280, "cap", "4m40s (cap)"},
		{100, 60, "rate", "1m0s"},
		{100, 0, "paused", "paused"},
		{100, 0, "stalled", "stalled"},
	} {
		var r roomJSON
		r.Live.Waiting, r.ETAClearSeconds, r.Clear.Limit = tc.waiting, tc.secs, tc.limit
		if got := clears(r); got != tc.want {
			t.Errorf("%d waiting, %d s, %q: %q, want %q", tc.waiting, tc.secs, tc.limit, got, tc.want)
		}
	}
}

// The proof-of-work switch and difficulty are live settings too (`foyer room set`).
func TestRoomSetProofOfWork(t *testing.T) {
	got, err := parseAssignments([]string{"pow=on", "pow_difficulty=20"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"proof_of_work": "on", "pow_difficulty": int64(20)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("body %v, want %v", got, want)
	}
}
