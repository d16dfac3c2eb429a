// Package gateway is foyer's HTTP edge: the visitor API and the queue page, the reverse proxy
// in front of the booking backend (proxy mode) or the return-URL hand-off (token mode), the
// organisers' admin API and dashboard, metrics and health checks. It wires queue (the line in
// Redis), admission (tokens) and web (pages) together; nothing imports it but cmd and
// internal/stack (the simulator's in-process foyer).
package gateway
