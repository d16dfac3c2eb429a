package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// withTemplates adds the room templates the runtime-room tests create rooms from.
func withTemplates(c *Config) {
	c.RoomTemplates = []RoomConfig{
		{Name: "screening", DisplayName: "Screening {room}", Paths: []string{"/screen/{room}/"},
			Backend: c.Rooms[0].Backend, RatePerMinute: 60, MaxActive: 10, QueueAll: true},
		{Name: "app", Mode: "token", ReturnURLs: []string{"https://tickets.example.org/{room}/"}},
	}
}

// eventually polls ok until it holds or the (generous) deadline passes, and returns how long
// it took.
func eventually(t *testing.T, within time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > within {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func adminJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// TestRuntimeRoomOnEveryReplica: a room created through one replica's admin API is served by
// a second replica (same Redis prefix) within a second (the test allows more on a busy
// machine and logs the time), and by a replica started later at once; deleted, it stops being
// listed and routed on the second replica, and its visitor there is told it is closed.
func TestRuntimeRoomOnEveryReplica(t *testing.T) {
	a := newHarness(t, harnessOpt{mod: withTemplates})
	b := newHarness(t, harnessOpt{rdb: a.rdb, prefix: a.prefix, mod: withTemplates})

	code, body := a.admin(http.MethodPost, "/foyer/admin/v1/rooms",
		`{"name": "screen-7", "template": "screening", "settings": {"rate_per_minute": 30}}`, nil)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	got := adminJSON(t, body)
	if got["display_name"] != "Screening screen-7" || got["settings"].(map[string]any)["rate_per_minute"] != float64(30) ||
		got["paths"].([]any)[0] != "/screen/screen-7/" || got["settings"].(map[string]any)["max_active"] != float64(10) {
		t.Fatalf("created room: %s", body)
	}
	took := eventually(t, 10*time.Second, "replica B serves the created room", func() bool {
		code, _ := b.admin(http.MethodGet, "/foyer/admin/v1/rooms/screen-7", "", nil)
		return code == http.StatusOK
	})
	t.Logf("replica B served the created room %s after the creation returned", took)

	later := newHarness(t, harnessOpt{rdb: a.rdb, prefix: a.prefix, mod: withTemplates})
	if code, body := later.admin(http.MethodGet, "/foyer/admin/v1/rooms/screen-7", "", nil); code != http.StatusOK {
		t.Fatalf("a replica started later does not serve the room at once: %d %s", code, body)
	}

	v := b.visitor()
	resp, page := v.do(http.MethodGet, "/screen/screen-7/seats", "text/html", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Screening screen-7") {
		t.Fatalf("replica B does not route the runtime room's path: %d %.200s", resp.StatusCode, page)
	}
	st := v.join("screen-7")
	if st.State != "open" {
		t.Fatalf("joined a runtime room on B: %+v", st)
	}

	code, body = a.admin(http.MethodDelete, "/foyer/admin/v1/rooms/screen-7", "", nil)
	if code != http.StatusOK || adminJSON(t, body)["state"] != "closed" {
		t.Fatalf("delete: %d %s", code, body)
	}
	took = eventually(t, 10*time.Second, "replica B drops the deleted room", func() bool {
		code, _ := b.admin(http.MethodGet, "/foyer/admin/v1/rooms/screen-7", "", nil)
		_, list := b.admin(http.MethodGet, "/foyer/admin/v1/rooms", "", nil)
		return code == http.StatusNotFound && !strings.Contains(string(list), "screen-7")
	})
	t.Logf("replica B dropped the deleted room %s after the deletion returned", took)
	if resp, _ := v.do(http.MethodGet, "/screen/screen-7/seats", "text/html", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("replica B still routes a deleted room's path: %d", resp.StatusCode)
	}
	if st := v.status("screen-7"); st.State != "closed" || st.Admitted {
		t.Fatalf("the deleted room's visitor on B is told %+v, want closed", st)
	}
	if b.engine.Rooms() != nil && contains(b.engine.Rooms(), "screen-7") {
		t.Fatalf("replica B's engine still steps the deleted room: %v", b.engine.Rooms())
	}
	// the deletion is in the audit log, as a change to closed
	_, audit := a.admin(http.MethodGet, "/foyer/admin/v1/audit", "", nil)
	if !strings.Contains(string(audit), `"reason":"room deleted"`) || !strings.Contains(string(audit), "room created from template screening") {
		t.Fatalf("audit: %s", audit)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestDeleteRoomTellsWaitingVisitors: the visitors waiting in a deleted room (here in the
// pre-queue) are told it is closed by their next poll, and nobody new can join it.
func TestDeleteRoomTellsWaitingVisitors(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: withTemplates})
	opens := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code, body := h.admin(http.MethodPost, "/foyer/admin/v1/rooms",
		`{"name": "later", "template": "app", "settings": {"opens_at": "`+opens+`"}}`, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var waiting []*visitor
	for range 3 {
		v := h.visitor()
		if st := v.join("later"); st.State != "prequeue" {
			t.Fatalf("join: %+v", st)
		}
		waiting = append(waiting, v)
	}
	if code, body := h.admin(http.MethodDelete, "/foyer/admin/v1/rooms/later", "", nil); code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, body)
	}
	for i, v := range waiting {
		if st := v.status("later"); st.State != "closed" {
			t.Fatalf("visitor %d is told %+v, want closed", i, st)
		}
	}
	code, _ := h.visitor().json(http.MethodPost, "/foyer/v1/rooms/later/join")
	if code != http.StatusGone {
		t.Fatalf("a join of a deleted room: %d, want 410", code)
	}
	// the refund list of a deleted sale is still there during the closing period
	if code, body := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/later/flagged", "", nil); code != http.StatusOK {
		t.Fatalf("flagged of a deleted room: %d %s", code, body)
	}
	if code, body := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/later", "", nil); code != http.StatusNotFound || !strings.Contains(string(body), "deleted at") {
		t.Fatalf("GET of a deleted room: %d %s, want 404 with its deletion time", code, body)
	}
	if code, body := h.admin(http.MethodPost, "/foyer/admin/v1/rooms", `{"name": "later", "template": "app"}`, nil); code != http.StatusConflict {
		t.Fatalf("re-creation in the closing period: %d %s, want 409", code, body)
	}
}

// TestCreateRoomBadInput: each bad request is refused with a clear error naming the field, and
// creates nothing.
func TestCreateRoomBadInput(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: withTemplates})
	if code, body := h.admin(http.MethodPost, "/foyer/admin/v1/rooms", `{"name": "taken", "template": "app"}`, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	for _, tc := range []struct {
		name, body string
		hdr        map[string]string
		code       int
		field      string // a field the error must name, or text the message must hold
	}{
		{"not json", `{"name": `, nil, 400, "one JSON object"},
		{"no name", `{"template": "app"}`, nil, 400, `"name"`},
		{"bad name", `{"name": "Screen 7", "template": "app"}`, nil, 400, `"name"`},
		{"no template", `{"name": "x1"}`, nil, 400, `"template"`},
		{"unknown template", `{"name": "x1", "template": "nope"}`, nil, 400, "screening, app"},
		{"unknown field", `{"name": "x1", "template": "app", "colour": "red"}`, nil, 400, `"colour"`},
		{"bad setting type", `{"name": "x1", "template": "app", "settings": {"rate_per_minute": "fast"}}`, nil, 400, `"settings.rate_per_minute"`},
		{"bad setting value", `{"name": "x1", "template": "app", "settings": {"max_active": -1}}`, nil, 400, `"settings.max_active"`},
		{"unknown setting", `{"name": "x1", "template": "app", "settings": {"speed": 1}}`, nil, 400, `"settings.speed"`},
		{"not json content", `{"name": "x1", "template": "app"}`, map[string]string{"Content-Type": "text/plain"}, 415, "application/json"},
		{"configured room's name", `{"name": "` + testRoom + `", "template": "app"}`, nil, 409, "YAML"},
		{"runtime room's name", `{"name": "taken", "template": "app"}`, nil, 409, "exists"},
		{"a good request after the refusals", `{"name": "x2", "template": "screening"}`, nil, 201, `"/screen/x2/"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.admin(http.MethodPost, "/foyer/admin/v1/rooms", tc.body, tc.hdr)
			if code != tc.code || !strings.Contains(string(body), tc.field) {
				t.Fatalf("%d %s, want %d naming %s", code, body, tc.code, tc.field)
			}
		})
	}
	_, list := h.admin(http.MethodGet, "/foyer/admin/v1/rooms", "", nil)
	if strings.Contains(string(list), `"x1"`) {
		t.Fatalf("a refused creation left a room: %s", list)
	}
	if code, body := h.admin(http.MethodGet, "/foyer/admin/v1/room-templates", "", nil); code != http.StatusOK ||
		!strings.Contains(string(body), `"name":"screening"`) || !strings.Contains(string(body), `"paths":["/screen/{room}/"]`) ||
		!strings.Contains(string(body), `"rate_per_minute":60`) {
		t.Fatalf("templates: %d %s", code, body)
	}
	for _, tc := range []struct {
		path string
		code int
		text string
	}{
		{"/foyer/admin/v1/rooms/" + testRoom, 409, "YAML"},
		{"/foyer/admin/v1/rooms/nope", 404, "no room"},
		{"/foyer/admin/v1/rooms/Bad%20Name", 400, "room names"},
	} {
		if code, body := h.admin(http.MethodDelete, tc.path, "", nil); code != tc.code || !strings.Contains(string(body), tc.text) {
			t.Fatalf("DELETE %s: %d %s, want %d", tc.path, code, body, tc.code)
		}
	}
	if code, _ := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/"+testRoom, "", nil); code != http.StatusOK {
		t.Fatal("a refused deletion changed the configured room")
	}
}

// TestRoomsChangeUnderTraffic: rooms created and deleted while requests read the rooms (the
// admin list, protected paths, the metrics, the history loop) never break a request; run with
// -race it shows the room set is safe for concurrent change.
func TestRoomsChangeUnderTraffic(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: withTemplates})
	stop := make(chan struct{})
	errs := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		v := h.visitor()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			for _, p := range []string{"/screen/c" + string(rune('0'+i%5)) + "/x", "/metrics", "/book/"} {
				if resp, _ := v.do(http.MethodGet, p, "text/html", nil, nil); resp.StatusCode >= 500 {
					errs <- p + ": " + resp.Status
				}
			}
			if code, _ := h.admin(http.MethodGet, "/foyer/admin/v1/rooms", "", nil); code != http.StatusOK {
				errs <- "admin list: " + http.StatusText(code)
			}
		}
	}()
	for i := range 5 {
		name := "c" + string(rune('0'+i))
		if code, body := h.admin(http.MethodPost, "/foyer/admin/v1/rooms", `{"name": "`+name+`", "template": "screening"}`, nil); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, code, body)
		}
	}
	for i := range 5 {
		name := "c" + string(rune('0'+i))
		if code, body := h.admin(http.MethodDelete, "/foyer/admin/v1/rooms/"+name, "", nil); code != http.StatusOK {
			t.Fatalf("delete %s: %d %s", name, code, body)
		}
	}
	close(stop)
	<-done
	select {
	case e := <-errs:
		t.Fatalf("a request failed while rooms changed: %s", e)
	default:
	}
	if set := h.gw.roomSet(); len(set.rooms) != 1 || len(set.closing) != 5 || len(set.routes) != 1 {
		t.Fatalf("after 5 creations and 5 deletions: %d rooms, %d closing, %d routes", len(set.rooms), len(set.closing), len(set.routes))
	}
}

// TestBrokenRoomDefinitionIsSkipped: a registry entry this gateway cannot read (a newer
// version's, or damaged) is logged and skipped: the gateway still starts and serves the rest.
func TestBrokenRoomDefinitionIsSkipped(t *testing.T) {
	a := newHarness(t, harnessOpt{mod: withTemplates})
	if code, body := a.admin(http.MethodPost, "/foyer/admin/v1/rooms", `{"name": "fine", "template": "app"}`, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if err := a.engine.DefineRoom(context.Background(), "broken", []byte(`{"room": 7}`)); err != nil {
		t.Fatal(err)
	}
	b := newHarness(t, harnessOpt{rdb: a.rdb, prefix: a.prefix, mod: withTemplates}) // fails if start-up stops at it
	if code, _ := b.admin(http.MethodGet, "/foyer/admin/v1/rooms/fine", "", nil); code != http.StatusOK {
		t.Fatalf("the good runtime room is not served: %d", code)
	}
	if code, _ := b.admin(http.MethodGet, "/foyer/admin/v1/rooms/broken", "", nil); code != http.StatusNotFound {
		t.Fatalf("a broken definition is served: %d", code)
	}
}

// TestRoomRegistryLossWrittenBack: when Redis loses the registry (a restart without
// persistence), a gateway serving a runtime room writes its definition back, so a replica
// started afterwards serves it too.
func TestRoomRegistryLossWrittenBack(t *testing.T) {
	a := newHarness(t, harnessOpt{mod: withTemplates})
	if code, body := a.admin(http.MethodPost, "/foyer/admin/v1/rooms", `{"name": "kept", "template": "app"}`, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	ctx := context.Background()
	if err := a.rdb.Del(ctx, a.prefix+":{~rooms}:defs", a.prefix+":{~rooms}:version").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the definition is written back", func() bool {
		_, ok, err := a.engine.RoomDef(ctx, "kept")
		return err == nil && ok
	})
	b := newHarness(t, harnessOpt{rdb: a.rdb, prefix: a.prefix, mod: withTemplates})
	if code, _ := b.admin(http.MethodGet, "/foyer/admin/v1/rooms/kept", "", nil); code != http.StatusOK {
		t.Fatalf("a replica started after the loss does not serve the room: %d", code)
	}
}

// TestDeletedRoomSeriesForgotten: once a deleted room's closing period ends, its metric series
// go too, so a platform that creates a room per screening does not grow its scrape for ever.
func TestDeletedRoomSeriesForgotten(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: withTemplates})
	if code, body := h.admin(http.MethodPost, "/foyer/admin/v1/rooms", `{"name": "brief", "template": "app"}`, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	h.visitor().join("brief")
	series := func() int {
		t.Helper()
		mfs, err := h.gw.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "room" && l.GetValue() == "brief" {
						n++
					}
				}
			}
		}
		return n
	}
	if series() == 0 {
		t.Fatal("no series for the room before its deletion: the test sees nothing")
	}
	if code, body := h.admin(http.MethodDelete, "/foyer/admin/v1/rooms/brief", "", nil); code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, body)
	}
	h.gw.endClosing([]string{"brief"}) // what the loop does when the closing period ends
	if n := series(); n != 0 {
		t.Fatalf("%d series of the deleted room after its closing period", n)
	}
}
