package gateway

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// With a tracer provider, each visitor and admin request is a server span named by its route,
// with the room and the answer's status, continuing the caller's W3C trace; the protected
// path, /metrics and the health checks make none; nothing secret is recorded.
func TestTracingVisitorAndAdminPaths(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	h := newHarness(t, harnessOpt{deps: func(d *Deps) { d.TracerProvider = tp }})
	v := h.visitor()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, map[string]string{"traceparent": parent})
	v.status(testRoom)
	v.do(http.MethodGet, "/foyer/v1/rooms/nope/status", "application/json", nil, nil)
	if code, _ := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/"+testRoom, "", nil); code != http.StatusOK {
		t.Fatalf("admin: %d", code)
	}
	v.do(http.MethodGet, "/metrics", "", nil, nil)
	v.do(http.MethodGet, "/healthz", "", nil, nil)
	v.do(http.MethodGet, "/book/x", "", nil, nil)

	type got struct {
		name, room string
		status     int64
		traceID    string
	}
	var spans []got
	for _, s := range exp.GetSpans() {
		g := got{name: s.Name, traceID: s.SpanContext.TraceID().String()}
		for _, a := range s.Attributes {
			switch a.Key {
			case "foyer.room":
				g.room = a.Value.AsString()
			case "http.response.status_code":
				g.status = a.Value.AsInt64()
			}
			if a.Value.Type() == attribute.STRING && (strings.Contains(a.Value.AsString(), testAdminToken) || strings.Contains(a.Value.AsString(), "foyer_")) {
				t.Errorf("span %s records a secret or cookie: %s=%s", s.Name, a.Key, a.Value.AsString())
			}
		}
		spans = append(spans, g)
	}
	want := []got{
		{"POST /foyer/v1/rooms/:room/join", testRoom, 200, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"GET /foyer/v1/rooms/:room/status", testRoom, 200, ""},
		{"GET /foyer/v1/rooms/:room/status", "nope", 404, ""},
		{"GET /foyer/admin/v1/rooms/:room", testRoom, 200, ""},
	}
	if len(spans) != len(want) {
		t.Fatalf("spans %+v, want %d (visitor and admin paths only)", spans, len(want))
	}
	for i, w := range want {
		g := spans[i]
		if g.name != w.name || g.room != w.room || g.status != w.status || (w.traceID != "" && g.traceID != w.traceID) {
			t.Errorf("span %d: %+v, want %+v", i, g, w)
		}
	}
}

// Tracing is off by default: no endpoint, no provider, and a bad endpoint is a config problem.
func TestTracingConfig(t *testing.T) {
	if p := (TracingConfig{}).problems(); p != nil {
		t.Fatalf("off: %v", p)
	}
	p := TracingConfig{Endpoint: "otel:4318", SampleRatio: 2}.problems()
	if len(p) != 2 || !strings.HasPrefix(p[0], "tracing.endpoint:") || !strings.HasPrefix(p[1], "tracing.sample_ratio:") {
		t.Fatalf("problems: %v", p)
	}
	tp, shutdown, err := NewTracerProvider(t.Context(), TracingConfig{Endpoint: "http://127.0.0.1:1"})
	if err != nil || tp == nil {
		t.Fatal(err)
	}
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}
