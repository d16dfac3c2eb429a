package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Outcome is how a visitor's visit ended, reported with the release call.
type Outcome string

// The outcomes foyer records.
const (
	OutcomeBooked    Outcome = "booked"
	OutcomeAbandoned Outcome = "abandoned"
	OutcomeFailed    Outcome = "failed"
)

// Valid reports whether o is one of the outcomes foyer accepts.
func (o Outcome) Valid() bool {
	return o == OutcomeBooked || o == OutcomeAbandoned || o == OutcomeFailed
}

// Release errors. A *ReleaseError from foyer's answer wraps one of the first three.
var (
	// ErrReleaseUnauthorized: foyer refused the token (401 or 403).
	ErrReleaseUnauthorized = errors.New("release refused: token not accepted")
	// ErrLeaseGone: the lease no longer exists (404, 409 or 410): released already, or expired.
	// Usually safe to ignore.
	ErrLeaseGone = errors.New("release: lease already gone")
	// ErrReleaseRejected: foyer refused the request for another reason (other 4xx).
	ErrReleaseRejected = errors.New("release rejected")
	// ErrReleaseUnavailable: foyer could not be reached or failed (5xx, timeout, network); the
	// call may be retried. The slot frees itself when the lease expires anyway.
	ErrReleaseUnavailable = errors.New("release: foyer unavailable")
	// ErrBadOutcome: the outcome is not booked, abandoned or failed.
	ErrBadOutcome = errors.New("release: outcome must be booked, abandoned or failed")
)

// ReleaseError is foyer's answer to a release call that did not succeed.
type ReleaseError struct {
	StatusCode int
	Code       string // from {"error":{"code":...}}, if foyer sent one
	Message    string
}

func (e *ReleaseError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("release: foyer answered %d %s: %s", e.StatusCode, e.Code, e.Message)
	}
	return fmt.Sprintf("release: foyer answered %d", e.StatusCode)
}

// Unwrap maps the status to ErrReleaseUnauthorized, ErrLeaseGone, ErrReleaseRejected or
// ErrReleaseUnavailable, for errors.Is.
func (e *ReleaseError) Unwrap() error {
	switch {
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		return ErrReleaseUnauthorized
	case e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusConflict || e.StatusCode == http.StatusGone:
		return ErrLeaseGone
	case e.StatusCode >= 400 && e.StatusCode < 500 && e.StatusCode != http.StatusTooManyRequests && e.StatusCode != http.StatusRequestTimeout:
		return ErrReleaseRejected
	}
	return ErrReleaseUnavailable
}

// ReleaseConfig configures a ReleaseClient.
type ReleaseConfig struct {
	// BaseURL is where foyer is reached, e.g. "https://queue.example.com". Required.
	BaseURL string
	// Prefix is foyer's path prefix; default "/foyer".
	Prefix string
	// Client makes the requests; default a client with Timeout.
	Client *http.Client
	// Timeout bounds a call when Client is not given; default 5 s.
	Timeout time.Duration
	// BackendKey is this backend's release credential (one of foyer's backend_keys), sent as
	// BackendKeyHeader. Without it foyer accepts only OutcomeAbandoned, and only from the
	// visitor the token is bound to.
	BackendKey string
}

// BackendKeyHeader carries a booking backend's release credential.
const BackendKeyHeader = "Foyer-Backend-Key"

// ReleaseClient tells foyer that a visitor is done, so that their slot frees up at once:
// POST {BaseURL}{Prefix}/v1/rooms/{room}/release with the admission token as bearer and the
// backend's key (ReleaseConfig.BackendKey), which booked and failed require. It is safe for
// concurrent use.
type ReleaseClient struct {
	base   string // scheme://host[/path] + prefix, no trailing slash
	client *http.Client
	key    string
}

// NewReleaseClient returns a client for the foyer at cfg.BaseURL.
func NewReleaseClient(cfg ReleaseConfig) (*ReleaseClient, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("admission: release base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = "/foyer"
	}
	if !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("admission: release prefix %q must start with /", prefix)
	}
	c := &ReleaseClient{base: strings.TrimSuffix(u.String(), "/") + strings.TrimSuffix(prefix, "/"), client: cfg.Client, key: cfg.BackendKey}
	if c.client == nil {
		t := cfg.Timeout
		if t <= 0 {
			t = 5 * time.Second
		}
		c.client = &http.Client{Timeout: t}
	}
	return c, nil
}

// Release reports outcome for the admission token and frees its slot. The room is read from
// the token (foyer verifies it). It returns nil on 2xx (foyer answers 204); otherwise an error
// wrapping ErrBadOutcome, ErrMalformed, ErrReleaseUnauthorized, ErrLeaseGone,
// ErrReleaseRejected or ErrReleaseUnavailable.
func (c *ReleaseClient) Release(ctx context.Context, token string, outcome Outcome) error {
	if !outcome.Valid() {
		return fmt.Errorf("%w: %q", ErrBadOutcome, outcome)
	}
	room, err := peekRoom(token)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	body, _ := json.Marshal(struct {
		Outcome Outcome `json:"outcome"`
	}{outcome})
	endpoint := c.base + "/v1/rooms/" + url.PathEscape(room) + "/release"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if c.key != "" {
		req.Header.Set(BackendKeyHeader, c.key)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReleaseUnavailable, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &ReleaseError{StatusCode: resp.StatusCode}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &eb) == nil {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	}
	return e
}
