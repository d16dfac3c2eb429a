package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/queue"
)

// KeyReloader replaces a running gateway's admission keys (tokens.key_dir) and ticket secrets
// (tickets.secrets) without a restart: on SIGHUP and every tokens.reload_every. What happens to
// each key is decided in admission.KeyRing and queue.Engine.SetTicketKeys (a new signing key
// is published at once and signs after tokens.new_key_delay; the previous keeps verifying
// until removed). Any other change of the configuration needs a restart.
type KeyReloader struct {
	Parts *Parts
	// Config reads the configuration again, for the ticket secrets (and their files); nil
	// when it cannot change (the embedded demo configuration).
	Config func() (Config, error)
	// NewKeyDelay is tokens.new_key_delay.
	NewKeyDelay time.Duration
	Log         zerolog.Logger
}

// Reload reads the keys and the ticket secrets again and installs what changed. A failure
// (a half-copied key, a configuration with a problem) keeps what is in use and is returned.
func (r *KeyReloader) Reload() error {
	var errs []error
	if _, err := r.Parts.KeyRing.Reload(); err != nil {
		errs = append(errs, err)
	}
	if r.Config != nil {
		cfg, err := r.Config()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("ticket secrets not reloaded: %w", err))
		case len(cfg.Tickets.Secrets) > 0: // none configured: the generated secret, which does not change
			if _, err := r.Parts.Engine.SetTicketKeys(TicketKeys(cfg), r.NewKeyDelay); err != nil {
				errs = append(errs, fmt.Errorf("ticket secrets not reloaded: %w", err))
			} else if r.Parts.Server != nil {
				// the proof-of-work keys follow the secrets: a restarted replica derives the same
				r.Parts.Server.pow.setKeys(challengeKeys(TicketKeys(cfg)))
			}
		}
	}
	return errors.Join(errs...)
}

// Run reloads on every signal from hup and every interval (0: on signals only) until ctx
// ends. A failure is logged once until it changes, and the keys in use stay.
func (r *KeyReloader) Run(ctx context.Context, every time.Duration, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	last := ""
	for {
		signalled := false
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-hup:
			signalled = true
		}
		err := r.Reload()
		switch {
		case err != nil && (signalled || err.Error() != last):
			r.Log.Error().Err(err).Msg("keys not reloaded; the keys in use stay")
			last = err.Error()
		case err == nil:
			if signalled {
				r.Log.Info().Str("signing_kid", r.Parts.KeyRing.Current().SigningKey().ID()).
					Int("ticket_key", int(r.Parts.Engine.TicketKeyID())).Msg("keys reloaded on SIGHUP")
			}
			last = ""
		}
	}
}

// TicketKeys are the configured ticket secrets (tickets.secrets) as the queue takes them.
func TicketKeys(cfg Config) []queue.TicketKey {
	keys := make([]queue.TicketKey, 0, len(cfg.Tickets.Secrets))
	for _, s := range cfg.Tickets.Secrets {
		keys = append(keys, queue.TicketKey{ID: byte(s.ID), Secret: []byte(s.Secret)})
	}
	return keys
}
