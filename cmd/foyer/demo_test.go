package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/foyerhq/foyer/queue/redistest"
)

// TestDemoConfigEmbedded: `foyer demo` needs no file (it once failed outside the repository
// with "open configs/demo.yaml"), and the embedded copy is the shipped example.
func TestDemoConfigEmbedded(t *testing.T) {
	shipped, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shipped, demoYAML) {
		t.Fatal("cmd/foyer/demo.yaml and configs/demo.yaml differ: copy one over the other")
	}
	t.Chdir(t.TempDir()) // anywhere
	t.Setenv("FOYER_CONFIG", "")
	t.Setenv("FOYER_LISTEN", "")
	sf := serveFlags{listen: "127.0.0.1:18099"}
	cfg, err := sf.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rooms) != 1 || cfg.Rooms[0].Name != "biff-demo" || cfg.Listen != "127.0.0.1:18099" {
		t.Fatalf("embedded demo: rooms %+v listen %s", cfg.Rooms, cfg.Listen)
	}
}

// TestForgetRooms: `foyer demo --fresh` deletes the configured rooms' keys under their prefix,
// and nothing else.
func TestForgetRooms(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	sf := serveFlags{}
	t.Setenv("FOYER_REDIS_URL", db.URL)
	cfg, err := sf.load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Redis.Prefix = db.Prefix
	room := cfg.Rooms[0].Name
	gone := []string{db.Prefix + ":{" + room + "}:meta", db.Prefix + ":{" + room + "}:seen:123"}
	kept := []string{db.Prefix + ":{other-room}:meta", db.Prefix + "x:{" + room + "}:meta"}
	for _, k := range append(append([]string{}, gone...), kept...) {
		if err := db.Client.Set(ctx, k, "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := forgetRooms(ctx, db.Client, cfg)
	if err != nil || n != len(gone) {
		t.Fatalf("forgetRooms: %d keys, %v; want %d", n, err, len(gone))
	}
	for _, k := range gone {
		if db.Client.Exists(ctx, k).Val() != 0 {
			t.Errorf("%s survived --fresh", k)
		}
	}
	for _, k := range kept {
		if db.Client.Exists(ctx, k).Val() != 1 {
			t.Errorf("%s was deleted by --fresh", k)
		}
	}
}
