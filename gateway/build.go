package gateway

import (
	"fmt"
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
	Keys   *admission.KeySet
	Server *Server
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
	keys, err := admission.LoadOrGenerate(cfg.Tokens.KeyDir, admission.Algorithm(cfg.Tokens.Algorithm),
		log.With().Str("component", "admission").Logger())
	if err != nil {
		return nil, err
	}
	site, err := web.New(web.Config{OverrideDir: cfg.Web.OverrideDir})
	if err != nil {
		return nil, fmt.Errorf("gateway: pages: %w", err)
	}
	srv, err := New(cfg, Deps{Engine: engine, Keys: keys, Site: site, Logger: log})
	if err != nil {
		return nil, err
	}
	return &Parts{Engine: engine, Keys: keys, Server: srv}, nil
}
