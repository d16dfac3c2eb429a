package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
)

// foyerHooks builds the admission check (tokens verified locally with the keys from foyer's
// JWKS, bound to the visitor cookie) and the release call against the foyer at base. The key
// refresh runs until ctx ends.
func foyerHooks(ctx context.Context, base, room, issuer, backendKey string, log zerolog.Logger) (func(http.Handler) http.Handler, func(context.Context, string, string) error, error) {
	base = strings.TrimRight(base, "/")
	rk, err := admission.NewRemoteKeys(admission.RemoteKeysConfig{URL: base + "/.well-known/jwks.json",
		Logger: log.With().Str("component", "jwks").Logger()})
	if err != nil {
		return nil, nil, err
	}
	go func() { _ = rk.Run(ctx) }()
	if issuer == "" {
		issuer = base // foyer's default issuer is its public URL
	}
	ver, err := admission.NewVerifier(rk, admission.VerifierOptions{Issuer: issuer})
	if err != nil {
		return nil, nil, err
	}
	check, err := admission.Middleware(admission.MiddlewareConfig{Verifier: ver, Room: room, BindVisitor: true})
	if err != nil {
		return nil, nil, err
	}
	rc, err := admission.NewReleaseClient(admission.ReleaseConfig{BaseURL: base, BackendKey: backendKey})
	if err != nil {
		return nil, nil, err
	}
	release := func(ctx context.Context, token, outcome string) error {
		return rc.Release(ctx, token, admission.Outcome(outcome))
	}
	return check, release, nil
}
