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
// If a room's keys are lost, the next step (or join) notices (meta gone, or counter or head
// behind what this engine knows) and restores the room from the cache with max-merges: no
// number is issued twice (joins also pass the highest known number as a floor) and nobody's
// place moves. Visitors at or behind the restored head whose admission was lost are let in
// once, through the returning set.
//
// # Keys
//
// Every key carries the room hash tag, so every script touches one Redis Cluster slot. P is
// the prefix (Config.Prefix), R the room.
//
//	key                    type    written by                         TTL
//	P:{R}:meta             hash    create, join, step, claim,         RoomTTL (7 days), refreshed by step
//	                               update, restore                    every minute
//	                               (settings, version, seed, commit, counter, head, P, opened,
//	                               credit, last step time, liveness marks, restored head)
//	P:{R}:stats            hash    step, claim, release, restore      RoomTTL, refreshed by step
//	                               (admitted, skipped, returned, offers_expired, released:<outcome>)
//	P:{R}:offers           zset    step (add, expire), claim (take)   RoomTTL, refreshed by step
//	                               member position, score offer expiry ms
//	P:{R}:leases           zset    claim, extend, release, step       RoomTTL, set by claim
//	                               member jti, score lease expiry ms; after a data loss also
//	                               "lost:<n>" placeholders for leases the cache counted (restore)
//	P:{R}:lease            hash    claim, release, step               RoomTTL, set by claim
//	                               j:<jti> -> "position|ticket|claimed ms|max until ms|visitor",
//	                               p:<position> -> jti
//	P:{R}:skipped          zset    step (add, trim to Grace), claim   RoomTTL, refreshed by step
//	                               member position, score skip time ms
//	P:{R}:returning        zset    claim (add), step (serve)          RoomTTL, set by claim
//	                               member position, score return time ms
//	P:{R}:orphans          bitmap  claim (after a restore)            RoomTTL, set by claim
//	                               bit per position let in once after its admission was lost
//	P:{R}:seen:<epoch>     bitmap  mark (liveness flush)              3 x AbsentAfter
//	                               bit per position seen polling, epoch = unix ms / AbsentAfter ms
//	P:audit                list    AppendAudit (LPUSH + LTRIM)        none: the organisers' record, bounded
//	                               newest first                       to AuditMax entries; global, no room
//	                                                                  tag, never touched by a script
//	P:settings             channel update (PUBLISH room name)         none: a Pub/Sub channel, not a key
//
// Memory per waiting visitor is the two live liveness bitmaps: 2 bits per position.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Run does the background work and stops with its
// context. Every Redis call has a deadline (CallTimeout) and its failures wrap
// ErrStoreUnavailable.
package queue
