package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/web"
)

// Parts are a gateway and the engine and keys it was built from. Run the engine's loop
// (Engine.Run) and the server's (Server.Run) from main.
type Parts struct {
	Engine *queue.Engine
	Keys   *admission.KeySet // the keys at start; KeyRing holds the ones in use
	// KeyRing is tokens.key_dir, reloaded without a restart (see KeyReloader).
	KeyRing *admission.KeyRing
	Server  *Server
	// ShutdownTracing sends the spans still buffered (tracing on); call it after Serve returns.
	ShutdownTracing func(context.Context) error
}

// Build assembles a gateway from a validated configuration the way `foyer serve` does: the
// queue engine over rdb with the given ticket keys, the admission keys from tokens.key_dir
// (generated there on a first run), and the pages. Every binary that runs a gateway uses it, so
// they cannot drift apart.
func Build(cfg Config, rdb redis.UniversalClient, tickets []queue.TicketKey, log zerolog.Logger) (*Parts, error) {
	engine, err := queue.New(rdb, queue.Config{
		Prefix:      cfg.Redis.Prefix,
		TicketKeys:  tickets,
		CallTimeout: cfg.Redis.Timeout,
		LedgerTTL:   time.Duration(cfg.Ledger.TTLDays) * 24 * time.Hour,
		LedgerMax:   cfg.Ledger.MaxPerRoom,
		Logger:      log.With().Str("component", "queue").Logger(),
	})
	if err != nil {
		return nil, err
	}
	ring, err := admission.NewKeyRing(cfg.Tokens.KeyDir, admission.Algorithm(cfg.Tokens.Algorithm),
		admission.KeyRingOptions{NewKeyDelay: cfg.Tokens.NewKeyDelay, Logger: log.With().Str("component", "admission").Logger()})
	if err != nil {
		return nil, err
	}
	keys := ring.Current()
	site, err := web.New(web.Config{OverrideDir: cfg.Web.OverrideDir})
	if err != nil {
		return nil, fmt.Errorf("gateway: pages: %w", err)
	}
	var challengeKey []byte
	if ks := challengeKeys(tickets); len(ks) > 0 { // shared by every replica as the ticket secrets are
		challengeKey = ks[0]
	}
	tp, shutdownTracing, err := NewTracerProvider(context.Background(), cfg.Tracing)
	if err != nil {
		return nil, err
	}
	deps := Deps{Engine: engine, KeyRing: ring, Site: site, Logger: log, ChallengeKey: challengeKey}
	if cfg.Tracing.Endpoint != "" {
		deps.TracerProvider = tp
	}
	srv, err := New(cfg, deps)
	if err != nil {
		return nil, err
	}
	srv.pow.setKeys(challengeKeys(tickets)) // every secret's key verifies (a rotation in progress)
	return &Parts{Engine: engine, Keys: keys, KeyRing: ring, Server: srv, ShutdownTracing: shutdownTracing}, nil
}

// ParseAdminToken reads the one form FOYER_ADMIN_TOKEN takes everywhere: "name:token", or a
// bare token (named "env" in the audit log). A part before the first colon longer than 32
// characters is not a name, so a bare token may contain colons past that point. `foyer serve`
// adds the token to admin.tokens; `foyer room` sends its token part.
func ParseAdminToken(v string) AdminToken {
	name, tok, ok := strings.Cut(v, ":")
	if !ok || name == "" || len(name) > 32 {
		return AdminToken{Name: "env", Token: v}
	}
	return AdminToken{Name: name, Token: tok}
}
