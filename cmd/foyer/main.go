// Command foyer is the foyer virtual waiting room: the gateway (`foyer serve`), the local demo
// (`foyer demo`), and the tools around them (keys, tokens, config checks, room control).
//
// main is the only place that reads flags and the environment, builds the root logger and
// exits; each subcommand lives in its own file and registers itself in commands.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// version is stamped at build: `make build` passes -ldflags '-X main.version=<git describe>'.
// `foyer version` and `foyer --version` print it; `foyer serve` logs it at start.
var version = "dev"

// command is one subcommand: it parses its own flags and returns the process exit code.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is filled by init functions in the subcommand files.
var commands = map[string]command{
	"version": {summary: "print the version", run: func(_ []string, stdout, _ io.Writer) int {
		fmt.Fprintln(stdout, "foyer", version)
		return 0
	}},
}

func register(name string, c command) { commands[name] = c }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "-v" {
		args = []string{"version"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "foyer: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: foyer <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'foyer <command> -h' for a command's flags.")
}
