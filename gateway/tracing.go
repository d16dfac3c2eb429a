package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracingConfig turns on OpenTelemetry tracing of the visitor and admin paths (off by
// default): one span per request (join, status, release, the room page, the admin API), sent
// over OTLP/HTTP. Protected paths passed to the backend, static files, /metrics and the health
// checks are not traced.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector, for example http://otel-collector:4318; empty turns
	// tracing off.
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of traces kept when the caller did not decide (a traceparent
	// header's sampled flag wins), default 0.1.
	SampleRatio float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute, default "foyer".
	ServiceName string `yaml:"service_name"`
}

// problems reports a bad tracing block, each naming its field.
func (t TracingConfig) problems() []string {
	if t.Endpoint == "" {
		return nil
	}
	var p []string
	if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p = append(p, fmt.Sprintf("tracing.endpoint: must be an http(s) URL of an OTLP/HTTP collector, got %q", t.Endpoint))
	}
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		p = append(p, fmt.Sprintf("tracing.sample_ratio: must be between 0 and 1, got %g", t.SampleRatio))
	}
	return p
}

// NewTracerProvider returns the OTLP/HTTP tracer provider tracing configures, and its
// shutdown (which sends the spans still buffered); tracing off gives a no-op provider.
func NewTracerProvider(ctx context.Context, t TracingConfig) (trace.TracerProvider, func(context.Context) error, error) {
	if t.Endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimRight(t.Endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	ratio := t.SampleRatio
	if ratio == 0 {
		ratio = 0.1
	}
	name := t.ServiceName
	if name == "" {
		name = "foyer"
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
	)
	return tp, tp.Shutdown, nil
}

// tracing is the middleware that makes a span of each visitor and admin request, continuing
// the caller's trace (W3C traceparent). It never records cookies, tokens or query strings.
func (s *Server) tracing(tp trace.TracerProvider) echo.MiddlewareFunc {
	tracer := tp.Tracer("github.com/foyerhq/foyer/gateway")
	prop := propagation.TraceContext{}
	prefix := s.cfg.Prefix
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			route := c.Path()
			if !strings.HasPrefix(route, prefix+"/") || strings.HasPrefix(route, prefix+"/static/") {
				return next(c) // protected paths, static files, metrics, health checks
			}
			r := c.Request()
			ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			attrs := []attribute.KeyValue{
				attribute.String("http.request.method", r.Method),
				attribute.String("http.route", route),
			}
			if room := c.Param("room"); room != "" && len(room) <= 64 {
				attrs = append(attrs, attribute.String("foyer.room", room))
			}
			ctx, span := tracer.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
			defer span.End()
			c.SetRequest(r.WithContext(ctx))
			err := next(c)
			if err != nil {
				c.Error(err) // the error handler writes the answer, so its status is known here
			}
			status := c.Response().Status
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			return nil
		}
	}
}
