package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFoyer is a tiny stand-in for the gateway in proxy mode, for the simulator's tests: it
// speaks the visitor side of foyer's HTTP contract (join, status with poll_after_ms, the
// admission cookie, the line served in place of protected paths) with a trivially correct
// line: pre-queue shuffled at the opening, then first come first served, admitted at a fixed
// wall rate.
type fakeFoyer struct {
	room     string
	backend  http.Handler
	ratePerS float64
	pollMs   int

	mu      sync.Mutex
	opensAt time.Time
	opened  bool
	line    []string // visitor ids in admission order
	pos     map[string]int
	pre     []string
	joins   int
	polls   int
}

func newFakeFoyer(t *testing.T, room, backendURL string, ratePerS float64) *fakeFoyer {
	t.Helper()
	u, err := url.Parse(backendURL)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeFoyer{room: room, backend: httputil.NewSingleHostReverseProxy(u), ratePerS: ratePerS,
		pollMs: 100, pos: map[string]int{}, opensAt: time.Now().Add(time.Hour)}
}

func (f *fakeFoyer) setOpening(t time.Time) {
	f.mu.Lock()
	f.opensAt = t
	f.mu.Unlock()
}

// admittedUpTo is how many of the line may be in by now. Caller holds mu.
func (f *fakeFoyer) admittedUpTo(now time.Time) int {
	if now.Before(f.opensAt) {
		return 0
	}
	if !f.opened {
		mrand.Shuffle(len(f.pre), func(i, j int) { f.pre[i], f.pre[j] = f.pre[j], f.pre[i] })
		f.line = append(f.pre, f.line...)
		for i, id := range f.line {
			f.pos[id] = i
		}
		f.pre, f.opened = nil, true
	}
	return int(math.Floor(now.Sub(f.opensAt).Seconds() * f.ratePerS))
}

type fakeStatus struct {
	Room        string `json:"room"`
	State       string `json:"state"`
	Place       *int   `json:"place"`
	PollAfterMs int    `json:"poll_after_ms"`
	Admitted    bool   `json:"admitted"`
	Token       string `json:"token,omitempty"`
	Ticket      string `json:"ticket,omitempty"`
}

func (f *fakeFoyer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base := "/foyer/v1/rooms/" + f.room
	switch {
	case r.URL.Path == base+"/join" && r.Method == http.MethodPost:
		id := newID()
		f.mu.Lock()
		f.joins++
		now := time.Now()
		f.admittedUpTo(now)
		if f.opened {
			f.pos[id] = len(f.line)
			f.line = append(f.line, id)
		} else {
			f.pre = append(f.pre, id)
			f.pos[id] = -1
		}
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "foyer_visitor", Value: id, Path: "/", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "foyer_ticket_" + f.room, Value: id, Path: base})
		f.status(w, id, true)
	case r.URL.Path == base+"/status":
		c, err := r.Cookie("foyer_ticket_" + f.room)
		if err != nil {
			http.Error(w, `{"error":{"code":"no_ticket"}}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.polls++
		f.mu.Unlock()
		f.status(w, c.Value, false)
	case strings.HasPrefix(r.URL.Path, "/book/"):
		c, err := r.Cookie("foyer_admission")
		if err != nil || !strings.HasPrefix(c.Value, "adm-") {
			v, _ := r.Cookie("foyer_visitor")
			id := ""
			if v != nil {
				id = v.Value
			}
			f.status(w, id, false)
			return
		}
		f.backend.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeFoyer) status(w http.ResponseWriter, id string, join bool) {
	f.mu.Lock()
	upTo := f.admittedUpTo(time.Now())
	p, known := f.pos[id]
	st := fakeStatus{Room: f.room, State: "open", PollAfterMs: f.pollMs}
	if !f.opened {
		st.State = "prequeue"
	}
	if known && p >= 0 {
		place := p - upTo + 1
		if place <= 0 {
			st.Admitted = true
			st.Token = "adm-" + id
		} else {
			st.Place = &place
		}
	}
	f.mu.Unlock()
	if join {
		st.Ticket = id
	}
	if st.Admitted {
		http.SetCookie(w, &http.Cookie{Name: "foyer_admission", Value: st.Token, Path: "/"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
