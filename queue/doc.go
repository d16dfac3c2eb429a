// Package queue is foyer's line in Redis: joining, places, the admission step, liveness,
// claims, leases, room settings and stats, for any number of gateway replicas at once.
//
// # Model
//
// Each room has a ticket counter and a head. Join issues the next ticket number (concurrent
// joins of a room are coalesced into one script call); the visitor carries the number in a
// signed Ticket, so nothing per waiting visitor is stored. Tickets issued before the room opens
// are pre-queue tickets 1..P: at opening, P is fixed and ticket n <= P gets position
// VerifyPrequeuePlace(seed, P, n), a keyed permutation whose seed was committed (SHA-256) when
// the room was created and is revealed at opening; later tickets get position = number. The head
// is a cursor over positions: place = position - head, and place <= 0 means the visitor may
// Claim.
//
// The admission step (scripts/step.lua; Run calls it for every room about every 100 ms, on every
// replica) advances the head at RatePerMinute with a credit accumulator on Redis's clock
// (capped at one second's worth), never beyond MaxActive offers plus leases. Positions whose
// visitor is absent (not seen polling for AbsentAfter) are skipped without using credit or
// capacity; a skipped visitor back within Grace is served ahead of the line. Claim turns an
// admission into a lease (idempotent per ticket); when the ticket is next in line and there is
// credit and capacity it admits at once (passthrough), counted like any other admission.
//
// Status reads an in-process cache refreshed by every step (at most RefreshEvery old) and
// records the visitor as seen; seen positions go to Redis in one call per room per FlushEvery.
//
// If a room's keys are lost (Redis restarted empty or from an older snapshot), the next step,
// join or release notices (meta gone, or counter or head behind what this engine knows) and
// restores the room from the cache with max-merges (room.go, restore.lua, loss.go): the counter
// and the head get margins from the measured rates, so no number is issued twice and no
// position admitted before the loss is offered again as new; leases become placeholders that
// still count against the cap and that a release frees once (release is one-shot); positions
// at or behind the restored head come back once, through the returning set, only within a
// budget of the admissions that were outstanding, and not if a live gateway saw them claimed.
// docs/failures.md states what survives which loss.
//
// # Keys
//
// Every key carries the room hash tag, so every script touches one Redis Cluster slot. P is
// the prefix (Config.Prefix), R the room.
//
//	key                    type    written by                         TTL
//	P:{R}:meta             hash    create, join, step, claim,         RoomTTL (7 days), refreshed by step
//	                               update, restore, release, spend    every minute
//	                               (settings, version, seed, commit, counter, head, P, opened,
//	                               credit, last step time, liveness marks; after a restore:
//	                               restored head, restored/restored-from/orphans-from times,
//	                               orphan budget, lost_n and hold_n placeholder counters)
//	P:{R}:stats            hash    step, claim, release, restore      RoomTTL, refreshed by step
//	                               (admitted, skipped, returned, offers_expired, released:<outcome>)
//	P:{R}:offers           zset    step (add, expire), claim (take)   RoomTTL, refreshed by step
//	                               member position, score offer expiry ms
//	P:{R}:leases           zset    claim, extend, release, step,      RoomTTL, set by claim
//	                               restore, spend
//	                               member jti, score lease expiry ms; after a data loss also
//	                               "lost:<n>" placeholders for leases the cache counted (restore,
//	                               spend) and "hold:<n>" capacity held for orphans (restore,
//	                               taken by claim)
//	P:{R}:lease            hash    claim, release, step               RoomTTL, set by claim
//	                               j:<jti> -> "position|ticket|claimed ms|max until ms|visitor",
//	                               p:<position> -> jti
//	P:{R}:skipped          zset    step (add, trim to Grace), claim   RoomTTL, refreshed by step
//	                               member position, score skip time ms
//	P:{R}:returning        zset    claim (add), step (serve)          RoomTTL, set by claim
//	                               member position, score return time ms
//	P:{R}:orphans          bitmap  claim, spend (after a restore)     RoomTTL, set by claim and spend
//	                               bit per position let in once after its admission was lost,
//	                               or seen claimed by a live gateway (spent)
//	P:{R}:released         zset    release                            RoomTTL, set by release; members
//	                               member jti, score the time its     pruned by release once their
//	                               token can no longer be presented   score has passed
//	P:{R}:upload           string  spend (scratch, set and deleted    60 s (deleted in the same script)
//	                               in one script)
//	P:{R}:seen:<epoch>     bitmap  mark (liveness flush), restore     3 x AbsentAfter
//	                               bit per position seen polling, epoch = unix ms / AbsentAfter ms
//	P:{R}:joins:<minute>   hash    join (HINCRBY per counted join)    2 minutes, refreshed by join
//	                               field client address (IPv4, IPv6 /64) -> joins that minute
//	                               (minute = unix ms / 60000); two minutes make the sliding count
//	P:{R}:pow:<minute>     hash    join (HSETNX per proof spent)      until the end of the minute
//	                               field proof-of-work nonce -> 1, by the minute its challenge
//	                               expires: a solution is good once, fleet-wide
//	P:{R}:audit            list    update (LPUSH + LTRIM, in the       RoomTTL like the room's keys; bounded
//	                               same call as the change it records) to AuditMax entries
//	                               "<Redis time µs> <entry>", newest first
//	P:{R}:eta1             string  record notes (record.go): first     the ledger's TTL, refreshed by each
//	                               ETA shown, 12 bytes per position    write
//	P:{R}:returned         bitmap  record notes: positions let in      the ledger's TTL, refreshed by each
//	                               through the returning lane          write
//	P:{R}:fb:n, fb:list,   hash,   feedback (feedback.go): counts per  the ledger's TTL; the list capped at
//	fb:who                 list,   rating, newest comments, digests    FeedbackKept, the set at
//	                       set     of the visitors who answered        FeedbackMaxVisitors
//	P:{R}:minutes          zset    minute (first replica each minute)  RoomTTL, set by minute; bounded to
//	                               member "minute|counter|opened|P|      MinuteSeriesLen (two days)
//	                               booked|failed|abandoned|expired|
//	                               admitted|flagged", score unix minute
//	P:{R}:obs:c            hash    history (HINCRBY: every replica's   HistoryTTL (48 h), refreshed by every
//	                               refused joins by reason, proof-of-  record
//	                               work challenges issued and solved)
//	P:{R}:obs:1            zset    history (one sample a second,      HistoryTTL; trimmed to HistoryFineCap
//	                               whichever replica comes first;     (900) entries
//	                               none while nothing changes)
//	                               member "t|figures|counters", score t (Redis time, s)
//	P:{R}:obs:10           zset    history (the first sample of each  HistoryTTL; trimmed to
//	                               10 s), as obs:1                    HistoryCoarseCap (2880) entries
//	P:{R}:obs:q            string  history: the second the room was    HistoryTTL
//	                               last recorded unchanged (deleted by
//	                               the next change)
//	P:gateways             zset    heartbeat (every FlushEvery)        1 minute, refreshed by every beat
//	                               member engine id, score last beat   (global, no room tag, plain commands)
//	                               ms: the live gateways, for each one's
//	                               share of a fail-open room's pace
//	P:settings             channel update (PUBLISH room name)         none: a Pub/Sub channel, not a key
//	P:{~rooms}:defs        hash    define (runtime room created),      none: a definition lasts until its
//	                               undefine (deleted)                  room is deleted (registry.go)
//	                               room name -> the gateway's definition (opaque JSON)
//	P:{~rooms}:deleted     hash    undefine (add, prune entries older  none; entries pruned after
//	                               than ClosingPeriod), define (remove) ClosingPeriod (1 hour)
//	                               room name -> "<deleted ms>|<definition>"
//	P:{~rooms}:version     string  define, undefine (INCR)             none; read once a second by every engine
//	P:rooms                channel define, undefine (PUBLISH name)    none: a Pub/Sub channel, not a key
//
// The registry's hash tag "{~rooms}" cannot be a room's ('~' is not allowed in a room name).
// A deleted room's own keys are given the end of its closing period as their deadline
// (retire.lua, by every engine once it stopped stepping the room); its audit list and outcome
// ledger keep their own lifetimes.
//
// Memory per waiting visitor is the two live liveness bitmaps, 2 bits per position, and the
// fairness record's note of the first ETA shown, 12 bytes per position shown one (plus Redis's
// preallocation of the growing string, at most 1 MiB per room; docs/fairness.md).
//
// # Concurrency
//
// An Engine is safe for concurrent use. Run does the background work and stops with its
// context. Every Redis call has a deadline (CallTimeout) and its failures wrap
// ErrStoreUnavailable.
package queue
