// Package chaos is foyer's fault matrix: three gateway engines and a real redis-server, a
// simulated crowd joining, polling, claiming and releasing, and faults (Redis killed and
// restarted empty, restarted from an old snapshot, paused and resumed; a gateway killed with
// and without Redis, and in the middle of claims). For every cell it checks the invariants (no
// ticket number issued twice, no two visitors on one lease, never more live admissions than the
// cap, no served visitor admitted again, nobody waiting lost) and records the recovery time.
//
// The suite is behind the build tag "chaos" (make chaos); it is bounded to a few minutes and is
// not part of make test. See docs/failures.md for the table of results.
package chaos
