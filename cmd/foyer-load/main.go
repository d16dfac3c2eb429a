// Command foyer-load measures foyer against the budgets of DESIGN.md on the machine it runs on.
//
//	foyer-load polls [--duration 20s] [--connections 64] [--threads 2] [--tickets 100000] [--crowd both|ideal]
//	foyer-load joins [--duration 10s] [--connections 64] [--memory-tickets 1000000]
//	foyer-load pace  [--duration 10m] [--replicas 3] [--rate 600]
//	foyer-load rooms [--rooms 1000] [--replicas 2] [--window 30s] [--runtime] [--redis private]
//
// polls: a real gateway (a child process wired like `foyer serve`) on a loopback port over real
// Redis, one room whose line does not move, 100,000 tickets spread over the line; wrk polls
// the status with a Lua script that rotates through the tickets, while Redis's INFO counters
// are read before and after. Then nginx (2 workers) serves a file of the status body's size to
// the same wrk load, and the two are printed side by side.
//
// joins: joins per second through the HTTP API with fresh visitors, and Redis memory per
// waiting visitor with a million tickets issued and all of them marked present.
//
// pace: several gateway replicas on one room, a crowd polling and being admitted, admitted
// per minute against the configured rate.
//
// Everything listens on loopback only, is bounded in time and count, and stops by itself; the
// processes it starts (gateways, nginx, a private redis-server) are stopped by their PIDs. Keys
// live under a prefix of their own and are deleted at the end; nothing is flushed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"polls":             {"status polls per second against nginx on a static file, Redis commands per poll", runPolls},
	"joins":             {"joins per second through the HTTP API; Redis memory per waiting visitor", runJoins},
	"pace":              {"admitted per minute vs configured with several gateway replicas on one room", runPace},
	"rooms":             {"CPU per replica and Redis commands per second with many idle rooms", runRooms},
	"gateway":           {"serve one gateway for a parent foyer-load (internal)", runGateway},
	"static":            {"serve a fixed body with plain net/http for a parent foyer-load (internal)", runStatic},
	"slowbody-attacker": {"the attacking child of slowbody (internal)", runSlowBodyAttacker},
	"slowbody":          {"slow-body and idle connections against a gateway while health checks and visitors are timed", runSlowBody},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "usage: foyer-load <command> [flags]\n\ncommands:")
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %-8s %s\n", n, commands[n].summary)
		}
		fmt.Fprintln(stderr, "\nRun 'foyer-load <command> -h' for a command's flags.")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "foyer-load: unknown command %q\n", args[0])
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}
