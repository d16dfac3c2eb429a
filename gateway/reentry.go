package gateway

import (
	"encoding/json"

	"github.com/foyerhq/foyer/queue"
)

// A second chance after a failed booking (queue/reentry.go): the room's reentry_share (YAML,
// PATCH, `foyer room set`), the counts in the admin API, and the status JSON's "reentry".
// Only the booking backend's failed report (release.go, with a backend key) or foyer's own
// ledger evidence grants one; a visitor's release may only say abandoned, which grants nothing.

// reentryShareOf is a room's configured share: absent takes queue.DefaultReentryShare; 0
// turns re-entry off.
func reentryShareOf(v *float64) float64 {
	if v == nil {
		return queue.DefaultReentryShare
	}
	return *v
}

// reentryPatch reads reentry_share from a PATCH body; its bounds are queue.Settings.Validate's.
func reentryPatch(body map[string]json.RawMessage, p *queue.SettingsPatch, bad map[string]string) {
	raw, ok := body["reentry_share"]
	if !ok {
		return
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		bad["reentry_share"] = "must be a number between 0 (off) and 1"
		return
	}
	p.ReentryShare = &v
}

// reentryLive counts a room's second chances in the admin API.
type reentryLive struct {
	// Granted counts grants by who made them: the backend's failed reports, and foyer's
	// ledger evidence (counted when used: evidence is checked when the visitor comes back).
	Granted struct {
		Backend  int64 `json:"backend"`
		Evidence int64 `json:"evidence"`
	} `json:"granted"`
	// Used: visitors who came back and entered the re-entry lane; Admitted: who went back in;
	// Waiting: in the lane now.
	Used     int64 `json:"used"`
	Admitted int64 `json:"admitted"`
	Waiting  int64 `json:"waiting"`
}

func toReentryLive(s queue.ReentryStats) reentryLive {
	var l reentryLive
	l.Granted.Backend, l.Granted.Evidence = s.GrantedBackend, s.GrantedEvidence
	l.Used, l.Admitted, l.Waiting = s.Used, s.Admitted, s.Waiting
	return l
}
