package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/rs/zerolog"
)

// foyerHooks builds the admission check and the release call against the foyer at base.
func foyerHooks(_ context.Context, base, room string, _ zerolog.Logger) (func(http.Handler) http.Handler, func(context.Context, string, string) error, error) {
	_, _ = base, room
	return nil, nil, errors.New("--foyer: the admission package is not wired in yet")
}
