package admission

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for RemoteKeysConfig.
const (
	DefaultRefreshEvery = 5 * time.Minute
	DefaultMinInterval  = 10 * time.Second
	DefaultFetchTimeout = 5 * time.Second
	maxJWKSBytes        = 1 << 20
	maxJWKSKeys         = 100
	maxRemoteKIDLen     = 128
)

// RemoteKeysConfig configures RemoteKeys.
type RemoteKeysConfig struct {
	// URL is foyer's JWKS, e.g. "https://queue.example.com/.well-known/jwks.json". Required.
	URL string
	// Client makes the requests; default a client with FetchTimeout as its timeout.
	Client *http.Client
	// RefreshEvery is how often Run refreshes the keys; default 5 minutes.
	RefreshEvery time.Duration
	// MinInterval is the least time between two fetches caused by tokens with an unknown kid,
	// so a flood of forged kids cannot turn into a flood of requests to foyer; default 10 s.
	MinInterval time.Duration
	// FetchTimeout bounds one fetch; default 5 s.
	FetchTimeout time.Duration
	// Now is the clock for the rate limit; default time.Now.
	Now func() time.Time
	// Logger receives refresh failures from Run; the zero value logs nothing.
	Logger zerolog.Logger
}

// RemoteKeys is a KeySource for backends that verify tokens without holding foyer's keys: it
// fetches foyer's JWKS, caches it, refreshes it on a schedule (Run) and when a token names a
// kid it does not know (at most once per MinInterval), and keeps verifying from its cache
// while foyer is unreachable. Only Ed25519 (EdDSA) and RSA (RS256, 2048 bits or more) keys are
// taken from the document; symmetric keys never are. It is safe for concurrent use.
type RemoteKeys struct {
	url          string
	client       *http.Client
	refreshEvery time.Duration
	minInterval  time.Duration
	fetchTimeout time.Duration
	now          func() time.Time
	log          zerolog.Logger

	fetchMu sync.Mutex // one fetch at a time

	mu          sync.RWMutex
	keys        map[string]*Key
	etag        string
	gen         uint64 // fetch attempts so far
	lastAttempt time.Time
	lastSuccess time.Time
	lastErr     error
}

// NewRemoteKeys returns a RemoteKeys for cfg. It does no I/O: the first fetch happens in Run,
// Refresh, or the first Key call.
func NewRemoteKeys(cfg RemoteKeysConfig) (*RemoteKeys, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("admission: jwks url %q is not an http(s) URL", cfg.URL)
	}
	r := &RemoteKeys{
		url: cfg.URL, client: cfg.Client, refreshEvery: cfg.RefreshEvery, minInterval: cfg.MinInterval,
		fetchTimeout: cfg.FetchTimeout, now: cfg.Now, log: cfg.Logger, keys: map[string]*Key{},
	}
	if r.refreshEvery <= 0 {
		r.refreshEvery = DefaultRefreshEvery
	}
	if r.minInterval <= 0 {
		r.minInterval = DefaultMinInterval
	}
	if r.fetchTimeout <= 0 {
		r.fetchTimeout = DefaultFetchTimeout
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: r.fetchTimeout}
	}
	return r, nil
}

// Key returns the key for kid. An unknown kid triggers a fetch, unless one was attempted less
// than MinInterval ago; the error then wraps ErrUnknownKey.
func (r *RemoteKeys) Key(kid string) (*Key, error) {
	r.mu.RLock()
	k, gen, last := r.keys[kid], r.gen, r.lastAttempt
	r.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	if gen > 0 && r.now().Sub(last) < r.minInterval {
		return nil, ErrUnknownKey
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.fetchTimeout)
	defer cancel()
	err := r.refresh(ctx, gen)
	r.mu.RLock()
	k = r.keys[kid]
	r.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w (refreshing keys failed: %v)", ErrUnknownKey, err)
	}
	return nil, ErrUnknownKey
}

// Refresh fetches the JWKS now. On failure the cached keys stay in use.
func (r *RemoteKeys) Refresh(ctx context.Context) error {
	r.mu.RLock()
	gen := r.gen
	r.mu.RUnlock()
	return r.refresh(ctx, gen)
}

// LastRefresh returns the time of the last successful fetch (zero if none) and the error of
// the last attempt (nil if it succeeded).
func (r *RemoteKeys) LastRefresh() (time.Time, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.lastSuccess, r.lastErr
}

// Run refreshes the keys every RefreshEvery, and sooner (from MinInterval, doubling) after a
// failure, until ctx is cancelled; it then returns nil.
func (r *RemoteKeys) Run(ctx context.Context) error {
	retry := r.minInterval
	for {
		wait := r.refreshEvery
		if err := r.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Warn().Err(err).Str("url", r.url).Msg("jwks refresh failed; verifying with cached keys")
			wait, retry = min(retry, r.refreshEvery), min(retry*2, r.refreshEvery)
		} else {
			retry = r.minInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// refresh fetches unless another fetch has been attempted since the caller saw generation gen
// (concurrent callers then share that one).
func (r *RemoteKeys) refresh(ctx context.Context, gen uint64) error {
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	r.mu.RLock()
	done, lastErr := r.gen != gen, r.lastErr
	etag := r.etag
	r.mu.RUnlock()
	if done {
		return lastErr
	}
	keys, newTag, err := r.fetch(ctx, etag)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	r.lastAttempt = r.now()
	r.lastErr = err
	if err != nil {
		return err
	}
	r.lastSuccess = r.lastAttempt
	if keys != nil { // nil: not modified
		r.keys, r.etag = keys, newTag
	}
	return nil
}

func (r *RemoteKeys) fetch(ctx context.Context, etag string) (map[string]*Key, string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("admission: jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("admission: fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && etag != "" {
		return nil, "", nil
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, "", fmt.Errorf("admission: fetch jwks: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("admission: read jwks: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, "", fmt.Errorf("admission: jwks larger than %d bytes", maxJWKSBytes)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return nil, "", err
	}
	return keys, resp.Header.Get("ETag"), nil
}

// ParseJWKS reads a JSON Web Key Set and returns its usable verification keys by kid:
// OKP/Ed25519 keys (EdDSA) and RSA keys of 2048 bits or more (RS256) with use "sig" or no use.
// Other keys, symmetric ones above all, are skipped, as are keys whose alg contradicts their
// type and repeated kids. Only a document that is not a JWKS is an error.
func ParseJWKS(data []byte) (map[string]*Key, error) {
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			N   string `json:"n"`
			E   string `json:"e"`
			Kid string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("admission: jwks is not valid JSON: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`admission: jwks has no "keys" array`)
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("admission: jwks has more than %d keys", maxJWKSKeys)
	}
	out := make(map[string]*Key, len(doc.Keys))
	dec := base64.RawURLEncoding
	for _, j := range doc.Keys {
		if j.Kid == "" || len(j.Kid) > maxRemoteKIDLen || (j.Use != "" && j.Use != "sig") {
			continue
		}
		if _, dup := out[j.Kid]; dup {
			continue
		}
		var k *Key
		switch {
		case j.Kty == "OKP" && j.Crv == "Ed25519" && (j.Alg == "" || j.Alg == string(EdDSA)):
			x, err := dec.DecodeString(j.X)
			if err != nil || len(x) != ed25519.PublicKeySize {
				continue
			}
			k = newRemoteKey(j.Kid, EdDSA, ed25519.PublicKey(x))
		case j.Kty == "RSA" && (j.Alg == "" || j.Alg == string(RS256)):
			n, err1 := dec.DecodeString(j.N)
			e, err2 := dec.DecodeString(j.E)
			if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
				continue
			}
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
				continue
			}
			k = newRemoteKey(j.Kid, RS256, pub)
		}
		if k != nil {
			out[j.Kid] = k
		}
	}
	return out, nil
}

// newRemoteKey builds a verify-only key. Remote kids are not file names, so they skip
// ValidKID; they are only ever compared.
func newRemoteKey(kid string, alg Algorithm, pub any) *Key {
	k := &Key{id: kid, alg: alg, method: alg.method(), public: pub}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		k.sigLen = ed25519.SignatureSize
	case *rsa.PublicKey:
		k.sigLen = p.Size()
	}
	return k
}
