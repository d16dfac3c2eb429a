package queue

import (
	"strconv"
)

// ValidRoomName reports whether s is a valid room name: [a-z0-9-]{1,64}. A byte loop, not a
// regexp: it runs twice on every status poll.
func ValidRoomName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// roomKeys are the Redis keys of one room. They are the only place key names are built; every
// key carries the {room} hash tag so each script touches one Redis Cluster slot. See doc.go for
// the table of types, writers and TTLs.
type roomKeys struct {
	base      string // prefix:{room}:
	meta      string
	stats     string
	offers    string
	leases    string
	lease     string
	skipped   string
	returning string
	orphans   string
	audit     string
	released  string
	upload    string
}

func newRoomKeys(prefix, room string) roomKeys {
	b := prefix + ":{" + room + "}:"
	return roomKeys{
		base:      b,
		meta:      b + "meta",
		stats:     b + "stats",
		offers:    b + "offers",
		leases:    b + "leases",
		lease:     b + "lease",
		skipped:   b + "skipped",
		returning: b + "returning",
		orphans:   b + "orphans",
		audit:     b + "audit",
		released:  b + "released",
		upload:    b + "upload",
	}
}

// seen is the liveness bitmap of an epoch (epoch = floor(unix ms / AbsentAfter ms)).
func (k roomKeys) seen(epoch int64) string {
	return k.base + "seen:" + strconv.FormatInt(epoch, 10)
}

// settingsChannel is the Pub/Sub channel announcing settings changes for every room of a prefix.
// It is a channel, not a key: it has no slot and no TTL.
func settingsChannel(prefix string) string { return prefix + ":settings" }

// gatewaysKey is the set of live gateway engines (heartbeat): global to the prefix, no room
// tag, written by plain commands only, TTL one minute refreshed by every beat.
func gatewaysKey(prefix string) string { return prefix + ":gateways" }

// claimsChannel is the Pub/Sub channel on which engines announce the positions they saw claimed,
// so that every gateway can tell a served visitor from a waiting one after a data loss, even
// when the gateway that served it is gone. A channel, not a key: no slot, no TTL.
func claimsChannel(prefix string) string { return prefix + ":claims" }

// Outcome ledger keys (ledger.go): the records (hash lease id -> JSON), their index by
// admission time (sorted set, for the bounds and listing), and the leases whose payment
// succeeded without a confirmation yet (sorted set, scored by the payment's time). All three
// have the ledger's TTL (Config.LedgerTTL), refreshed by every admission.
func (k roomKeys) ledger() string      { return k.base + "ledger" }
func (k roomKeys) ledgerIndex() string { return k.base + "ledger:t" }
func (k roomKeys) ledgerRisk() string  { return k.base + "ledger:risk" }

// Shared history keys (history.go): the room's fleet counters (hash, every replica's counts
// summed), its samples at one a second and one per 10 seconds (sorted sets scored by
// Redis time, unix seconds), and the second the room was last recorded unchanged (string). All
// have HistoryTTL, refreshed by every record.
func (k roomKeys) obsCounters() string { return k.base + "obs:c" }
func (k roomKeys) obsQuiet() string    { return k.base + "obs:q" }
func (k roomKeys) obsFine() string     { return k.base + "obs:1" }
func (k roomKeys) obsCoarse() string   { return k.base + "obs:10" }

// joinCounts is the hash of each client address's joins of the room in one minute
// (minute = unix ms / 60000): field address -> count. Written by join.lua only; TTL two
// minutes, refreshed by every join that counts. The room tag keeps it in the join's slot.
func (k roomKeys) joinCounts(minute int64) string {
	return k.base + "joins:" + strconv.FormatInt(minute, 10)
}

// spentProofs is the set (a hash: field proof id -> 1) of proof-of-work solutions spent on
// joins of the room whose challenge expires within one minute (minute = unix ms / 60000,
// rounded up): written by join.lua only, expiring at the end of the minute after, so a
// solution is refused fleet-wide for as long as it could be presented.
func (k roomKeys) spentProofs(minute int64) string {
	return k.base + "pow:" + strconv.FormatInt(minute, 10)
}

// Second-chance keys (reentry.go): the grants and uses per position (hash), and the re-entry
// lane (sorted set position -> lane number), both with the room's TTL.
func (k roomKeys) reentry() string     { return k.base + "reentry" }
func (k roomKeys) reentryLane() string { return k.base + "reentry:lane" }

// Fairness record keys (record.go): the first ETA range shown at each position (a string of
// 12-byte slots indexed by position) and the positions let in through the returning lane (a
// bitmap). Both have the ledger's TTL, refreshed by every flush that writes them.
func (k roomKeys) firstETA() string { return k.base + "eta1" }
func (k roomKeys) returned() string { return k.base + "returned" }

// Visitor feedback keys (feedback.go): ratings by value (hash), the newest comments (list,
// capped) and the visitors who gave feedback (set, so each gives it once). The ledger's TTL.
func (k roomKeys) feedbackCounts() string { return k.base + "fb:n" }
func (k roomKeys) feedbackList() string   { return k.base + "fb:list" }
func (k roomKeys) feedbackWho() string    { return k.base + "fb:who" }
