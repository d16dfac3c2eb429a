package queue

import (
	"strconv"
	"time"
)

// A second chance (issue 14). A visitor whose booking failed may go back in without queueing
// again: once per admission, from a re-entry lane served before everyone else, at most
// Settings.ReentryShare of the room's pace (so the line keeps moving however many re-entries
// wait), and never above the cap.
//
// Only two things grant one, both recorded in Redis by foyer itself, never by the visitor:
//   - the booking backend's report: a release with outcome failed (the gateway accepts it only
//     with a backend key) grants it in the release's own atomic call (release.lua; a report
//     after the lease ran out, from the ledger's record: ledger_end.lua), usable within the
//     room's Grace;
//   - foyer's own evidence: the outcome ledger saw the admission's payment succeed and no
//     confirmation follow (charged but not booked, the refund list's condition), and the
//     session is over; checked when the visitor comes back (claim.lua), within Grace of the
//     session's end.
//
// The grant belongs to the visitor the admission was made for (the ticket's visitor id, which
// the gateway derives from the visitor's secret): another visitor presenting the same ticket
// number gets nothing. Its use is recorded for the position ("u:<position>"), so the re-entry's
// own admission never earns another. The failed admission's ledger record says who granted it
// and when it was used (rg, rga, ru); the re-entry's record names the admission it replaces
// (re); Stats.Reentry counts them.
//
// Cost: no extra round trip anywhere. A backend grant is part of the release's call; the
// evidence check and the lane entry are part of the claim the returning visitor's poll makes
// anyway (one call); the step serves the lane in its own call. While waiting in the lane the
// visitor's polls cost nothing (the lane number is remembered, like a returner's).

// DefaultReentryShare is the share of the pace re-entries may use unless the organiser sets
// another (Settings.ReentryShare; 0 turns re-entry off).
const DefaultReentryShare = 0.1

// reentryShareOf reads the share from the meta hash: a room created before re-entries existed
// has none, which means off (its rules do not change under it; the gateway's start-up check
// names the difference from the configuration).
func reentryShareOf(m map[string]string) float64 {
	v, err := strconv.ParseFloat(m["reentry_share"], 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return 0
	}
	return v
}

// Re-entry grantors, as recorded in the ledger (LedgerRecord.ReentryGrantedBy).
const (
	// ReentryByBackend: the booking backend reported the booking failed.
	ReentryByBackend = "backend"
	// ReentryByEvidence: foyer's ledger saw a payment succeed and no confirmation follow.
	ReentryByEvidence = "evidence"
)

// ReentryStats counts a room's second chances.
type ReentryStats struct {
	// GrantedBackend counts grants made by the backend's failed reports; GrantedEvidence
	// grants made on foyer's evidence (counted when used: evidence is checked then).
	GrantedBackend, GrantedEvidence int64
	// Used counts visitors who came back and entered the re-entry lane; Offered those the
	// step served from it; Admitted those who then took their admission.
	Used, Offered, Admitted int64
	// Waiting is the re-entry lane's length now.
	Waiting int64
}

func reentryStats(s *snapshot) ReentryStats {
	return ReentryStats{
		GrantedBackend:  s.stats["reentry:granted:backend"],
		GrantedEvidence: s.stats["reentry:granted:evidence"],
		Used:            s.stats["reentry:used"],
		Offered:         s.stats["reentry:offered"],
		Admitted:        s.stats["reentry:admitted"],
		Waiting:         s.reentering,
	}
}

// reentryETA bounds a re-entry's wait: the lane is served at its share of the configured
// pace (faster than that only if its credit was saved up: at most one second's worth).
func reentryETA(s *snapshot, place int64) (time.Duration, time.Duration) {
	perMin := float64(s.settings.RatePerMinute) * s.settings.ReentryShare
	if perMin <= 0 { // turned off: those still in the lane are served at the room's pace
		perMin = float64(s.settings.RatePerMinute)
	}
	d := func(n, perMin float64) time.Duration {
		return time.Duration(n / perMin * float64(time.Minute))
	}
	return d(float64(place-1), perMin*1.1), d(float64(place), perMin*0.8)
}
