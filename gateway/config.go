package gateway

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/web"
)

// Config is the whole gateway configuration. Precedence: defaults < YAML file < FOYER_*
// environment < flags; the YAML is decoded strictly (an unknown key is an error) and Validate
// reports every problem at once, each naming its field.
type Config struct {
	// Listen is the address the gateway serves on, for example ":8080".
	Listen string `yaml:"listen"`
	// PublicURL is how visitors reach foyer (scheme://host[:port]); it is the token issuer and
	// the base of absolute redirects. Defaults to http://<listen>.
	PublicURL string `yaml:"public_url"`
	// Prefix is where foyer's own paths live, default "/foyer".
	Prefix string `yaml:"prefix"`
	// Redis is the store.
	Redis RedisConfig `yaml:"redis"`
	// Admin holds the organisers' bearer tokens.
	Admin AdminConfig `yaml:"admin"`
	// Tokens configures admission tokens (JWT).
	Tokens TokenConfig `yaml:"tokens"`
	// Tickets configures the signed tickets visitors carry while they wait.
	Tickets TicketConfig `yaml:"tickets"`
	// Limits bounds what one client may do.
	Limits LimitConfig `yaml:"limits"`
	// Ledger bounds the outcome ledger (outcomes.go).
	Ledger LedgerConfig `yaml:"ledger"`
	// Web configures the queue page and the dashboard.
	Web WebConfig `yaml:"web"`
	// Log configures logging.
	Log LogConfig `yaml:"log"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed for the client address.
	// Trust only your own load balancers: a client inside a trusted range can claim any
	// address, and every per-address defence (join limits, proof-of-work escalation) then
	// counts each made-up address apart.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// BackendKeys are the booking backends' credentials for the release call: only a release
	// carrying one (header Foyer-Backend-Key) may report booked or failed.
	BackendKeys []BackendKey `yaml:"backend_keys"`
	// Rooms are the waiting rooms.
	Rooms []RoomConfig `yaml:"rooms"`
	// RoomTemplates are the templates of rooms created at runtime through the admin API
	// (rooms.go): each is a room whose name is the template's, and whose paths, backend, return
	// URLs, outcome paths and display names may contain {room}, replaced by the room's name.
	RoomTemplates []RoomConfig `yaml:"room_templates"`
	// TLS makes foyer terminate HTTPS itself (tls.go).
	TLS TLSConfig `yaml:"tls"`
	// Tracing sends OpenTelemetry spans of the visitor and admin paths (tracing.go); off by default.
	Tracing TracingConfig `yaml:"tracing"`
}

// RedisConfig says where the store is.
type RedisConfig struct {
	// URL is a redis:// or rediss:// URL; for a cluster or Sentinel use Addrs.
	URL string `yaml:"url"`
	// Addrs are cluster seed nodes (host:port), or the sentinels with MasterName; when set, URL
	// is ignored. One seed may be a single server or a cluster's configuration endpoint: the
	// seed is asked which (see Mode).
	Addrs []string `yaml:"addrs"`
	// MasterName selects Sentinel mode with Addrs as the sentinels.
	MasterName string `yaml:"master_name"`
	// Mode is auto (default: Sentinel with master_name, a cluster with several addrs, and for
	// one addr whatever the seed says), single, cluster or sentinel.
	Mode string `yaml:"mode"`
	// Password of Redis (and of a URL that carries none). Env FOYER_REDIS_PASSWORD wins.
	Password string `yaml:"password"`
	// PasswordFile holds the password instead (a mounted Secret); surrounding white space is
	// trimmed.
	PasswordFile string `yaml:"password_file"`
	// Prefix starts every key, default "foyer".
	Prefix string `yaml:"prefix"`
	// Timeout is the deadline of every Redis call, default 500ms.
	Timeout time.Duration `yaml:"timeout"`
	// Embedded runs an in-process Redis-compatible server (single node, not durable): for demos
	// on a machine with only Go installed.
	Embedded bool `yaml:"embedded"`
}

// AdminConfig lists the admin tokens.
type AdminConfig struct {
	Tokens []AdminToken `yaml:"tokens"`
}

// AdminToken is one organiser credential; Name is what the audit log records.
type AdminToken struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	// TokenFile holds the token instead (a mounted Secret).
	TokenFile string `yaml:"token_file"`
}

// BackendKey is one booking backend's release credential.
type BackendKey struct {
	// Name is what logs and the outcome ledger record.
	Name string `yaml:"name"`
	// Key is the secret, at least 32 characters.
	Key string `yaml:"key"`
	// KeyFile holds the key instead (a mounted Secret).
	KeyFile string `yaml:"key_file"`
	// Rooms limits the key to these rooms; empty means every room.
	Rooms []string `yaml:"rooms"`
}

// TokenConfig configures admission tokens.
type TokenConfig struct {
	// Algorithm is EdDSA (default), RS256 or HS256.
	Algorithm string `yaml:"algorithm"`
	// KeyDir holds the signing and verify-only keys; a key is generated there on first run.
	KeyDir string `yaml:"key_dir"`
	// Issuer is the iss claim, default "foyer" (what the admission package's verifier expects).
	Issuer string `yaml:"issuer"`
	// ReloadEvery is how often key_dir (and the ticket secrets in the configuration file and
	// their files) are read again for a rotation, default 2s; 0 reloads on SIGHUP only.
	ReloadEvery time.Duration `yaml:"reload_every"`
	// NewKeyDelay is how long a new signing key or first ticket secret is published and
	// accepted before it signs, default 30s: every replica must have read it by then (a
	// Kubernetes Secret can take a minute or more to reach every pod: raise it there).
	NewKeyDelay time.Duration `yaml:"new_key_delay"`
}

// TicketConfig configures the waiting tickets.
type TicketConfig struct {
	// Secrets are HMAC keys by id; the first signs, all verify. Each secret is at least 32
	// bytes (hex or plain). When empty, a secret is generated in tokens.key_dir.
	Secrets []TicketSecret `yaml:"secrets"`
}

// TicketSecret is one ticket signing key.
type TicketSecret struct {
	ID     int    `yaml:"id"`
	Secret string `yaml:"secret"`
	// SecretFile holds the secret instead (a mounted Secret); read again on every key reload.
	SecretFile string `yaml:"secret_file"`
}

// LimitConfig bounds clients.
type LimitConfig struct {
	// JoinsPerMinute is how many joins one client address may make per minute (burst 10).
	JoinsPerMinute int `yaml:"joins_per_minute"`
	// MaxBodyBytes bounds request bodies of foyer's own API.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ProxyMaxBodyBytes bounds request bodies passed to a room's backend, default 10 MiB.
	ProxyMaxBodyBytes int64 `yaml:"proxy_max_body_bytes"`
	// MaxConns bounds open client connections in total, default 10000 (keep it well below
	// the process's file limit); 0 turns the bound off.
	MaxConns int `yaml:"max_conns"`
	// MaxConnsPerIP bounds open connections from one client address (an IPv6 /64 counts as
	// one), default 512; idle keep-alive connections of that address are closed first to make
	// room. Trusted proxies are exempt. 0 turns the bound off.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// ReadHeaderTimeout is how long a client may take to send a request's headers, default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout is how long a client may take to send a whole request (headers and body) to
	// foyer's own paths, default 10s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout is how long a response from foyer's own paths may take to write, default 30s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout is how long a keep-alive connection may wait for its next request, default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// BodyTimeout is how long a client may take to send the body of a request passed to the
	// backend (uploads may be slower than foyer's own small bodies), default 60s.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// ProxyWriteTimeout bounds a response passed from the backend, default 5m; 0 means no
	// bound (long streams). WebSocket upgrades are never bounded.
	ProxyWriteTimeout time.Duration `yaml:"proxy_write_timeout"`
}

// validate reports the bad connection limits through bad.
func (l LimitConfig) validate(bad func(field, format string, args ...any)) {
	if l.ProxyMaxBodyBytes < 512 || l.ProxyMaxBodyBytes > 1<<40 {
		bad("limits.proxy_max_body_bytes", "must be between 512 and 1099511627776")
	}
	if l.MaxConns < 0 {
		bad("limits.max_conns", "must not be negative")
	}
	if l.MaxConnsPerIP < 0 {
		bad("limits.max_conns_per_ip", "must not be negative")
	}
	for _, d := range []struct {
		field    string
		v        time.Duration
		min, max time.Duration
	}{
		{"limits.read_header_timeout", l.ReadHeaderTimeout, 100 * time.Millisecond, 10 * time.Minute},
		{"limits.read_timeout", l.ReadTimeout, 100 * time.Millisecond, 10 * time.Minute},
		{"limits.write_timeout", l.WriteTimeout, 100 * time.Millisecond, 10 * time.Minute},
		{"limits.idle_timeout", l.IdleTimeout, 100 * time.Millisecond, 1 * time.Hour},
		{"limits.body_timeout", l.BodyTimeout, 100 * time.Millisecond, 24 * time.Hour},
	} {
		if d.v < d.min || d.v > d.max {
			bad(d.field, "must be between %s and %s, got %s", d.min, d.max, d.v)
		}
	}
	if l.ReadHeaderTimeout > l.ReadTimeout {
		bad("limits.read_header_timeout", "must not be longer than limits.read_timeout")
	}
	if l.ProxyWriteTimeout != 0 && (l.ProxyWriteTimeout < time.Second || l.ProxyWriteTimeout > 24*time.Hour) {
		bad("limits.proxy_write_timeout", "must be 0 (no bound) or between 1s and 24h, got %s", l.ProxyWriteTimeout)
	}
}

// WebConfig configures the pages.
type WebConfig struct {
	// OverrideDir holds templates and static files that replace the embedded ones.
	OverrideDir string `yaml:"override_dir"`
}

// LogConfig configures the root logger (built in main).
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is auto (console on a terminal, else JSON), json or console.
	Format string `yaml:"format"`
}

// RoomConfig is one waiting room. Its rules (rate, cap, session, schedule, absence, fail
// policy) seed the room's queue.Settings, which own their defaults and validation; once the
// room exists in Redis the stored settings win (see Server.EnsureRooms) and organisers change
// them live through the admin API.
type RoomConfig struct {
	// Name is the room id: [a-z0-9-]{1,64}.
	Name string `yaml:"name"`
	// DisplayName is shown on the queue page.
	DisplayName string `yaml:"display_name"`
	// DisplayNames is the name per page language ({ko: ..., en: ...}); Texts replaces queue-page messages per language ({en: {q_closed_body: ...}}); see web.CheckRoomTexts.
	DisplayNames map[string]string            `yaml:"display_names"`
	Texts        map[string]map[string]string `yaml:"texts"`
	// Mode is proxy (default) or token.
	Mode string `yaml:"mode"`
	// Paths are the protected path prefixes (proxy mode).
	Paths []string `yaml:"paths"`
	// Backend is the upstream URL (proxy mode).
	Backend string `yaml:"backend"`
	// ReturnURLs are the allowed return URL prefixes (token mode), e.g. https://tickets.example.org/.
	ReturnURLs []string `yaml:"return_urls"`
	// RatePerMinute is how many visitors are admitted per minute.
	RatePerMinute int `yaml:"rate_per_minute"`
	// MaxActive caps admitted sessions alive at once.
	MaxActive int `yaml:"max_active"`
	// Session is the admission length, extended while the visitor is active, default 10m.
	Session time.Duration `yaml:"session"`
	// MaxSession caps the sliding session (default: the larger of 30m and Session).
	MaxSession time.Duration `yaml:"max_session"`
	// OpensAt is when the sale opens; before it visitors join the pre-queue. Empty: open now.
	OpensAt time.Time `yaml:"opens_at"`
	// OpensIn sets OpensAt relative to the gateway's start (demos and rehearsals); ignored when
	// OpensAt is set. The room's stored settings win over it once the room exists.
	OpensIn time.Duration `yaml:"opens_in"`
	// TimeZone is an IANA zone for times on the queue page, default UTC.
	TimeZone string `yaml:"time_zone"`
	// QueueAll queues everyone from opens_at even when there is no line.
	QueueAll bool `yaml:"queue_all"`
	// OnStoreError is closed (default: nobody new is admitted while Redis is down) or open.
	OnStoreError string `yaml:"on_store_error"`
	// AbsentAfter is how long a waiting visitor may go unseen before their turn is skipped
	// (default 2m: see queue.DefaultSettings).
	AbsentAfter time.Duration `yaml:"absent_after"`
	// Grace is how long a skipped visitor may come back and still go in ahead of the line
	// (default 30m).
	Grace time.Duration `yaml:"grace"`
	// WaitingStatus is the HTTP status of the queue page served in place, default 200.
	WaitingStatus int `yaml:"waiting_status"`
	// Theme styles the queue page.
	Theme ThemeConfig `yaml:"theme"`
	// Adaptive lowers the rate when the backend struggles (proxy mode).
	Adaptive AdaptiveConfig `yaml:"adaptive"`
	// ProofOfWork asks joins for a proof-of-work (see PoWConfig; default auto: only from an
	// address or room under join pressure, instead of refusing it).
	ProofOfWork PoWConfig `yaml:"proof_of_work"`
	// Outcomes marks the backend's payment and confirm paths foyer watches (proxy mode), for
	// the outcome ledger and the refund list (outcomes.go).
	Outcomes OutcomesConfig `yaml:"outcomes"`
	// ReentryShare is the share of the rate (0..1) second chances may use after a failed
	// booking [0.1]; 0 turns them off (queue.Settings.ReentryShare).
	ReentryShare *float64 `yaml:"reentry_share"`
}

// ThemeConfig styles a room's queue page.
type ThemeConfig struct {
	// LogoURL is shown beside the room's name (relative or https).
	LogoURL string `yaml:"logo_url"`
	// Primary colours links, buttons and the progress bar ("#rgb" or "#rrggbb").
	Primary string `yaml:"primary_color"`
	// Background is the page background.
	Background string `yaml:"background_color"`
	// Text is the body text colour.
	Text string `yaml:"text_color"`
}

// AdaptiveConfig bounds the automatic rate control.
type AdaptiveConfig struct {
	Enabled      bool          `yaml:"enabled"`
	MinRate      int           `yaml:"min_rate"`
	MaxRate      int           `yaml:"max_rate"`
	TargetP95    time.Duration `yaml:"target_p95"`
	MaxErrorRate float64       `yaml:"max_error_rate"`
}

// DefaultConfig is the configuration before any file or environment is applied.
func DefaultConfig() Config {
	return Config{
		Listen: "127.0.0.1:8080",
		Prefix: "/foyer",
		Redis:  RedisConfig{URL: "redis://127.0.0.1:6379/0", Prefix: "foyer", Timeout: 500 * time.Millisecond},
		Tokens: TokenConfig{Algorithm: "EdDSA", KeyDir: ".foyer/keys", ReloadEvery: 2 * time.Second, NewKeyDelay: 30 * time.Second},
		Limits: LimitConfig{JoinsPerMinute: 30, MaxBodyBytes: 16 << 10, ProxyMaxBodyBytes: 10 << 20,
			MaxConns: 10000, MaxConnsPerIP: 512, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, BodyTimeout: 60 * time.Second,
			ProxyWriteTimeout: 5 * time.Minute},
		Log: LogConfig{Level: "info", Format: "auto"},
	}
}

// ParseConfig decodes YAML strictly on top of DefaultConfig. It does not validate: call
// Validate. Every decode problem (an unknown field, a value of the wrong type) is reported at
// once in a *ConfigError, each with its line and field ("line 7: rooms[0].colour: unknown
// field"); the returned Config then holds whatever did decode.
func ParseConfig(r io.Reader) (Config, error) {
	cfg, _, problems, err := parseConfig(r)
	if err != nil {
		return cfg, err
	}
	if len(problems) > 0 {
		return cfg, &ConfigError{Problems: sortProblems(problems)}
	}
	return cfg, nil
}

func parseConfig(r io.Reader) (Config, *configSource, []problem, error) {
	cfg := DefaultConfig()
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("read config: %w", err)
	}
	src, problems := decodeConfig(data, &cfg)
	return cfg, src, problems, nil
}

// LoadConfig reads the file at path (may be empty for defaults only), applies the environment
// through getenv (FOYER_LISTEN, FOYER_REDIS_URL, FOYER_ADMIN_TOKEN) and validates. Decode and
// validation problems are reported together in one *ConfigError, each with its line in the
// file where it has one.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	src := &configSource{lines: map[string]int{}, failed: map[string]bool{}}
	var decode []problem
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return cfg, fmt.Errorf("open config: %w", err)
		}
		defer f.Close()
		if cfg, src, decode, err = parseConfig(f); err != nil {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, p := range cfg.readSecretFiles() {
		if lp, ok := src.locate(p); ok {
			decode = append(decode, lp)
		}
	}
	cfg.ApplyEnv(getenv)
	cfg.FillDefaults()
	problems, err := withLines(src, decode, cfg.Validate())
	if err != nil {
		return cfg, err
	}
	if len(problems) > 0 {
		return cfg, &ConfigError{File: path, Problems: problems}
	}
	return cfg, nil
}

// ApplyEnv overrides the file with FOYER_* variables.
func (c *Config) ApplyEnv(getenv func(string) string) {
	if getenv == nil {
		return
	}
	if v := getenv("FOYER_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("FOYER_REDIS_URL"); v != "" {
		c.Redis.URL = v
		c.Redis.Addrs = nil
		c.Redis.Embedded = false
	}
	if v := getenv("FOYER_REDIS_PASSWORD"); v != "" {
		c.Redis.Password = v
	}
	if v := getenv("FOYER_ADMIN_TOKEN"); v != "" {
		c.Admin.Tokens = append(c.Admin.Tokens, ParseAdminToken(v)) // "name:token" or a bare token
	}
}

// FillDefaults completes rooms and derived fields.
func (c *Config) FillDefaults() {
	c.Prefix = "/" + strings.Trim(c.Prefix, "/")
	if c.PublicURL == "" {
		host := c.Listen
		if strings.HasPrefix(host, ":") {
			host = "localhost" + host
		}
		c.PublicURL = map[bool]string{false: "http://", true: "https://"}[c.TLS.Enabled()] + host
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Tokens.Issuer == "" {
		c.Tokens.Issuer = "foyer" // admission.DefaultIssuer: what a backend verifier expects by default
	}
	for i := range c.Rooms {
		r := &c.Rooms[i]
		if r.Mode == "" {
			r.Mode = "proxy"
		}
		if r.DisplayName == "" {
			r.DisplayName = r.Name
		}
		if r.TimeZone == "" {
			r.TimeZone = "UTC"
		}
		if r.WaitingStatus == 0 {
			r.WaitingStatus = 200
		}
		r.ProofOfWork.fill()
		if r.Adaptive.Enabled {
			rate := r.Settings(time.Time{}).WithDefaults().RatePerMinute
			if r.Adaptive.MaxRate == 0 {
				r.Adaptive.MaxRate = rate
			}
			if r.Adaptive.MinRate == 0 {
				r.Adaptive.MinRate = max(1, rate/10)
			}
			if r.Adaptive.TargetP95 == 0 {
				r.Adaptive.TargetP95 = time.Second
			}
			if r.Adaptive.MaxErrorRate == 0 {
				r.Adaptive.MaxErrorRate = 0.05
			}
		}
	}
	c.fillTemplates()
}

// ConfigError lists every problem found in a configuration, each naming its field and, when
// it comes from a file, starting with its line there ("line 7: rooms[0].colour: unknown field").
type ConfigError struct {
	// File is the configuration file, when there is one.
	File     string
	Problems []string
}

func (e *ConfigError) Error() string {
	head := "invalid configuration"
	if e.File != "" {
		head = e.File + ": " + head
	}
	return head + ":\n  " + strings.Join(e.Problems, "\n  ")
}

var roomName = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// Validate reports every problem at once as a *ConfigError.
func (c *Config) Validate() error {
	var p []string
	bad := func(field, format string, args ...any) {
		p = append(p, field+": "+fmt.Sprintf(format, args...))
	}
	if c.Listen == "" {
		bad("listen", "must be set, for example :8080")
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("public_url", "must be an absolute http(s) URL, got %q", c.PublicURL)
	}
	c.TLS.validate(bad)
	if c.Prefix == "/" || strings.ContainsAny(c.Prefix, " ?#") {
		bad("prefix", "must be a path like /foyer, got %q", c.Prefix)
	}
	if !c.Redis.Embedded && c.Redis.URL == "" && len(c.Redis.Addrs) == 0 {
		bad("redis.url", "must be set (or redis.addrs, or redis.embedded: true)")
	}
	if c.Redis.URL != "" && len(c.Redis.Addrs) == 0 && !c.Redis.Embedded {
		if u, err := url.Parse(c.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			bad("redis.url", "must be a redis://, rediss:// or unix:// URL")
		}
	}
	switch c.Redis.Mode {
	case "", RedisAuto, RedisSingle:
	case RedisCluster:
		if len(c.Redis.Addrs) == 0 && c.Redis.URL == "" {
			bad("redis.mode", "cluster needs redis.addrs or redis.url")
		}
	case RedisSentinel:
		if c.Redis.MasterName == "" || len(c.Redis.Addrs) == 0 {
			bad("redis.mode", "sentinel needs redis.master_name and the sentinels in redis.addrs")
		}
	default:
		bad("redis.mode", "must be auto, single, cluster or sentinel, got %q", c.Redis.Mode)
	}
	if !roomName.MatchString(c.Redis.Prefix) {
		bad("redis.prefix", "must match [a-z0-9-]{1,64}, got %q", c.Redis.Prefix)
	}
	if c.Redis.Timeout < 10*time.Millisecond || c.Redis.Timeout > 10*time.Second {
		bad("redis.timeout", "must be between 10ms and 10s, got %s", c.Redis.Timeout)
	}
	names := map[string]bool{}
	for i, t := range c.Admin.Tokens {
		f := fmt.Sprintf("admin.tokens[%d]", i)
		if t.Name == "" {
			bad(f+".name", "must be set (it is what the audit log records)")
		} else if names[t.Name] {
			bad(f+".name", "%q is used twice", t.Name)
		}
		names[t.Name] = true
		if len(t.Token) < 16 && !(t.Token == "" && t.TokenFile != "") { // a file not read yet: readSecretFiles checks it
			bad(f+".token", "must be at least 16 characters")
		}
	}
	bnames := map[string]bool{}
	for i, k := range c.BackendKeys {
		f := fmt.Sprintf("backend_keys[%d]", i)
		if k.Name == "" || bnames[k.Name] {
			bad(f+".name", "must be set and unique")
		}
		bnames[k.Name] = true
		if len(k.Key) < 32 && !(k.Key == "" && k.KeyFile != "") {
			bad(f+".key", "must be at least 32 characters")
		}
	}
	switch c.Tokens.Algorithm {
	case "EdDSA", "RS256", "HS256":
	default:
		bad("tokens.algorithm", "must be EdDSA, RS256 or HS256, got %q", c.Tokens.Algorithm)
	}
	if c.Tokens.KeyDir == "" {
		bad("tokens.key_dir", "must be set")
	}
	if r := c.Tokens.ReloadEvery; r != 0 && (r < 100*time.Millisecond || r > time.Hour) {
		bad("tokens.reload_every", "must be 0 (on SIGHUP only) or between 100ms and 1h, got %s", r)
	}
	if d := c.Tokens.NewKeyDelay; d < 0 || d > 24*time.Hour {
		bad("tokens.new_key_delay", "must be between 0 and 24h, got %s", d)
	}
	ids := map[int]bool{}
	for i, s := range c.Tickets.Secrets {
		f := fmt.Sprintf("tickets.secrets[%d]", i)
		if s.ID < 0 || s.ID > 255 {
			bad(f+".id", "must be 0..255")
		} else if ids[s.ID] {
			bad(f+".id", "%d is used twice", s.ID)
		}
		ids[s.ID] = true
		if len(s.Secret) < 32 && !(s.Secret == "" && s.SecretFile != "") {
			bad(f+".secret", "must be at least 32 characters")
		}
	}
	if c.Limits.JoinsPerMinute < 0 {
		bad("limits.joins_per_minute", "must not be negative")
	}
	if c.Limits.MaxBodyBytes < 512 || c.Limits.MaxBodyBytes > 1<<20 {
		bad("limits.max_body_bytes", "must be between 512 and 1048576")
	}
	c.Limits.validate(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		bad("log.format", "must be auto, json or console")
	}
	if len(c.Rooms) == 0 && len(c.RoomTemplates) == 0 {
		bad("rooms", "at least one room (or one of room_templates) is needed")
	}
	seen := map[string]bool{}
	paths := map[string]string{}
	for i, r := range c.Rooms {
		f := fmt.Sprintf("rooms[%d]", i)
		if !roomName.MatchString(r.Name) {
			bad(f+".name", "must match [a-z0-9-]{1,64}, got %q", r.Name)
		} else if seen[r.Name] {
			bad(f+".name", "%q is used twice", r.Name)
		}
		seen[r.Name] = true
		switch r.Mode {
		case "proxy":
			if len(r.Paths) == 0 {
				bad(f+".paths", "proxy mode needs at least one protected path prefix")
			}
			if u, err := url.Parse(r.Backend); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(f+".backend", "proxy mode needs an absolute http(s) backend URL, got %q", r.Backend)
			}
		case "token":
			if len(r.ReturnURLs) == 0 {
				bad(f+".return_urls", "token mode needs at least one allowed return URL prefix")
			}
			for j, ru := range r.ReturnURLs {
				if u, err := url.Parse(ru); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					bad(fmt.Sprintf("%s.return_urls[%d]", f, j), "must be an absolute http(s) URL, got %q", ru)
				}
			}
		default:
			bad(f+".mode", "must be proxy or token, got %q", r.Mode)
		}
		for j, pth := range r.Paths {
			pf := fmt.Sprintf("%s.paths[%d]", f, j)
			switch {
			case !strings.HasPrefix(pth, "/"):
				bad(pf, "must start with /, got %q", pth)
			case strings.HasPrefix(pth, c.Prefix+"/") || pth == c.Prefix || pth == "/metrics" || pth == "/healthz" || pth == "/readyz" || strings.HasPrefix(pth, "/.well-known/"):
				bad(pf, "%q collides with foyer's own paths", pth)
			case paths[pth] != "":
				bad(pf, "%q is already protected by room %q", pth, paths[pth])
			default:
				paths[pth] = r.Name
			}
		}
		if _, err := time.LoadLocation(r.TimeZone); err != nil {
			bad(f+".time_zone", "unknown time zone %q", r.TimeZone)
		}
		// The room's rules have one owner, queue.Settings: its defaults and its validation.
		var ve *queue.ValidationError
		if err := r.Settings(time.Now()).WithDefaults().Validate(); errors.As(err, &ve) {
			for _, field := range slices.Sorted(maps.Keys(ve.Fields)) {
				bad(f+"."+yamlSettingName(field), "%s", ve.Fields[field])
			}
		}
		for _, pr := range web.CheckRoomTexts(r.DisplayNames, r.Texts) {
			p = append(p, f+"."+pr)
		}
		if r.WaitingStatus < 200 || r.WaitingStatus > 599 {
			bad(f+".waiting_status", "must be an HTTP status, got %d", r.WaitingStatus)
		}
		p = append(p, r.ProofOfWork.problems(f+".proof_of_work")...)
		if a := r.Adaptive; a.Enabled {
			if a.MinRate < 1 || a.MinRate > a.MaxRate {
				bad(f+".adaptive.min_rate", "must be between 1 and adaptive.max_rate")
			}
			if a.MaxErrorRate <= 0 || a.MaxErrorRate >= 1 {
				bad(f+".adaptive.max_error_rate", "must be between 0 and 1")
			}
			if r.Mode != "proxy" {
				bad(f+".adaptive.enabled", "needs proxy mode (foyer must see the backend)")
			}
		}
		p = append(p, r.Outcomes.problems(f+".outcomes", r.Mode)...)
	}
	p = append(p, c.Ledger.problems()...)
	p = append(p, c.Tracing.problems()...)
	p = append(p, c.templateProblems()...)
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Problems: p}
}

// Settings are the room's rules as configured, before defaults: the seed of the room's stored
// queue.Settings. OpensIn is resolved against now.
func (rc RoomConfig) Settings(now time.Time) queue.Settings {
	opens := rc.OpensAt
	if opens.IsZero() && rc.OpensIn > 0 {
		opens = now.Add(rc.OpensIn).Truncate(time.Second)
	}
	return queue.Settings{
		RatePerMinute: rc.RatePerMinute,
		MaxActive:     rc.MaxActive,
		Session:       rc.Session,
		MaxSession:    rc.MaxSession,
		AbsentAfter:   rc.AbsentAfter,
		Grace:         rc.Grace,
		OpensAt:       opens,
		State:         queue.StateOpen, // the organiser's switch; prequeue is derived from OpensAt
		QueueAll:      rc.QueueAll,
		OnStoreError:  rc.OnStoreError,
		Remaining:     queue.RemainingUnknown, // the YAML reports no stock (0 would mean sold out)
		PoWMode:       rc.ProofOfWork.Mode,
		PoWDifficulty: rc.ProofOfWork.Difficulty,
		ReentryShare:  reentryShareOf(rc.ReentryShare),
	}
}

// yamlSettingName names a queue.Settings field (as Validate and the admin API name it) by its
// key in a room's YAML.
func yamlSettingName(field string) string {
	switch field {
	case "session_seconds":
		return "session"
	case "max_session_seconds":
		return "max_session"
	case "absent_after_seconds":
		return "absent_after"
	case "grace_seconds":
		return "grace"
	case "proof_of_work":
		return "proof_of_work.mode"
	case "pow_difficulty":
		return "proof_of_work.difficulty"
	}
	return field
}

// placeholderWords mark a secret copied from an example and never replaced.
var placeholderWords = []string{"replace", "change-me", "changeme", "placeholder", "example", "your-", "xxxx", "todo"}

func looksPlaceholder(s string) bool {
	l := strings.ToLower(s)
	for _, w := range placeholderWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// Warnings lists what is valid but probably wrong, each naming its field: secrets that look
// copied from an example, an opening already past, and a join limit that a campus or carrier
// address (hundreds of people behind one IP) would hit with proof-of-work off.
func (c *Config) Warnings(now time.Time) []string {
	var w []string
	for i, t := range c.Admin.Tokens {
		if looksPlaceholder(t.Token) {
			w = append(w, fmt.Sprintf("admin.tokens[%d].token: looks like a placeholder; use a long random token", i))
		}
	}
	for i, s := range c.Tickets.Secrets {
		if looksPlaceholder(s.Secret) {
			w = append(w, fmt.Sprintf("tickets.secrets[%d].secret: looks like a placeholder; use 32+ random bytes (hex)", i))
		}
	}
	for i, k := range c.BackendKeys {
		if looksPlaceholder(k.Key) {
			w = append(w, fmt.Sprintf("backend_keys[%d].key: looks like a placeholder; use a long random key", i))
		}
	}
	for i, r := range c.Rooms {
		if !r.OpensAt.IsZero() && r.OpensAt.Before(now) {
			w = append(w, fmt.Sprintf("rooms[%d].opens_at: %s is in the past: the room opens at once (a room that exists keeps its stored opening)",
				i, r.OpensAt.Format(time.RFC3339)))
		}
		if c.Limits.JoinsPerMinute > 0 && r.ProofOfWork.Mode == "off" {
			w = append(w, fmt.Sprintf("rooms[%d].proof_of_work.mode: off with limits.joins_per_minute %d: people behind one shared address (a campus, a carrier NAT) beyond that are refused; auto makes them pay a proof-of-work instead",
				i, c.Limits.JoinsPerMinute))
		}
	}
	return w
}
