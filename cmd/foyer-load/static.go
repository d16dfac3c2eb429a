package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// The static child: Go's net/http serving the status body's bytes with the headers foyer sends,
// and nothing else. It is the ceiling for any Go server on this machine and load, so the table
// can say how much of the gap to nginx is foyer and how much is net/http.

func runStatic(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("static", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bodyPath := fs.String("body", "", "file whose bytes every answer carries")
	maxLife := fs.Duration("max-life", 30*time.Minute, "stop after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	body, err := os.ReadFile(*bodyPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, *maxLife)
	defer cancel()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			_, _ = w.Write(body)
		})}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	b, _ := json.Marshal(gatewayReady{Listen: ln.Addr().String(), PID: os.Getpid()})
	fmt.Fprintf(stdout, "%s\n", b)
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// startStatic starts the static child on body.
func startStatic(ctx context.Context, dir string, body []byte) (*child, error) {
	bp := dir + "/static-body.json"
	if err := os.WriteFile(bp, body, 0o644); err != nil {
		return nil, err
	}
	return startChild(ctx, "go-static", dir+"/go-static.log", "/", "static", "--body", bp)
}
