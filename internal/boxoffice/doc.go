// Package boxoffice is the demo booking backend: a small film-festival box office with the
// failure model of a real one, so foyer's effect can be seen and measured.
//
// A booking reserves seats, takes a (simulated) payment, then confirms. The office has a
// bounded number of worker slots; each step's service time grows with the number of requests
// in progress (Config.StepBase + Config.StepPerInflight × in-flight). Past capacity, requests
// wait for a slot (in random order, as they do behind a contended pool), slow down and time out
// after Config.Timeout from their arrival. A timeout that strikes after the payment step
// leaves the customer charged but not booked; the office counts those, per attempt and per
// customer. Within capacity nothing waits and nothing times out.
//
// All durations are divided by Config.Speed, so a 30-minute sale can be played in a minute;
// every latency the office reports is scaled back to sale time.
//
// Visitor-facing routes live under Config.BasePath (default "/book", the path foyer's demo room
// protects) and pass through Config.Check, the admission token check. Operations routes live
// under /boxoffice/ and are never checked: stats (JSON), metrics (Prometheus text) and reset.
package boxoffice
