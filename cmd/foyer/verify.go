package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/foyerhq/foyer/queue"
)

func init() {
	register("verify", command{summary: "check a room's pre-queue shuffle: the seed against its commitment, and one ticket's place", run: runVerify})
}

// fairnessJSON is the part of GET /foyer/v1/rooms/{room}/fairness the check needs.
type fairnessJSON struct {
	Room         string `json:"room"`
	Commitment   string `json:"commitment"`
	Opened       bool   `json:"opened"`
	Seed         string `json:"seed"`
	PrequeueSize int64  `json:"prequeue_size"`
}

// maxFairnessBody bounds what verify reads from --url.
const maxFairnessBody = 1 << 20

func fetchFairness(url string) (fairnessJSON, error) {
	var f fairnessJSON
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return f, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return f, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return f, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxFairnessBody)).Decode(&f); err != nil {
		return f, fmt.Errorf("%s: not a fairness record: %w", url, err)
	}
	return f, nil
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "the room's fairness record, `URL` .../foyer/v1/rooms/ROOM/fairness (gives the seed, the commitment and the size)")
	seedHex := fs.String("seed", "", "the revealed seed (hex), instead of --url")
	commit := fs.String("commitment", "", "the commitment published before the pre-queue opened (hex SHA-256 of the seed), instead of --url")
	size := fs.Int64("size", 0, "the pre-queue size P, instead of --url")
	ticket := fs.Int64("ticket", 0, "your pre-queue number (1..P), as the waiting page showed it")
	place := fs.Int64("place", 0, "the place in line foyer gave you (optional): checked against the shuffle")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: foyer verify (--url URL | --seed HEX --commitment HEX --size P) --ticket N [--place M]")
		fmt.Fprintln(stderr, "\nChecks that SHA-256(seed) is the commitment published before the pre-queue opened, and")
		fmt.Fprintln(stderr, "prints the place in line of pre-queue number N (docs/fairness.md). Exit status 0 when it")
		fmt.Fprintln(stderr, "all holds, 1 when the seed or the place does not match, 2 for bad input.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || *ticket < 1 || (*url == "") == (*seedHex == "" && *commit == "" && *size == 0) {
		fs.Usage()
		return 2
	}
	f := fairnessJSON{Seed: *seedHex, Commitment: *commit, PrequeueSize: *size, Opened: true}
	if *url != "" {
		var err error
		if f, err = fetchFairness(*url); err != nil {
			fmt.Fprintln(stderr, "foyer verify:", err)
			return 2
		}
		if !f.Opened || f.Seed == "" {
			fmt.Fprintf(stderr, "foyer verify: room %s has not opened yet: its seed is revealed at the opening (commitment %s)\n", f.Room, f.Commitment)
			return 2
		}
	}
	seed, err := hex.DecodeString(strings.TrimSpace(f.Seed))
	if err != nil || len(seed) != queue.SeedLen {
		fmt.Fprintf(stderr, "foyer verify: the seed must be %d bytes of hex\n", queue.SeedLen)
		return 2
	}
	if f.PrequeueSize < 1 {
		fmt.Fprintln(stderr, "foyer verify: the pre-queue size must be at least 1 (nobody was in the pre-queue?)")
		return 2
	}
	if *ticket > f.PrequeueSize {
		fmt.Fprintf(stderr, "foyer verify: pre-queue numbers go from 1 to %d; %d was not in the pre-queue\n", f.PrequeueSize, *ticket)
		return 2
	}
	sum := sha256.Sum256(seed)
	got := hex.EncodeToString(sum[:])
	ok := true
	if strings.EqualFold(got, strings.TrimSpace(f.Commitment)) {
		fmt.Fprintf(stdout, "commitment: SHA-256(seed) = %s, the published commitment: OK\n", got)
	} else {
		fmt.Fprintf(stdout, "commitment: SHA-256(seed) = %s, but the published commitment is %q: MISMATCH\n", got, f.Commitment)
		ok = false
	}
	pos := queue.VerifyPrequeuePlace(seed, f.PrequeueSize, *ticket)
	fmt.Fprintf(stdout, "pre-queue number %d: place %d of %d\n", *ticket, pos, f.PrequeueSize)
	if *place != 0 {
		if *place == pos {
			fmt.Fprintf(stdout, "the place foyer gave you (%d) matches: OK\n", *place)
		} else {
			fmt.Fprintf(stdout, "foyer gave you place %d, but the shuffle says %d: MISMATCH\n", *place, pos)
			ok = false
		}
	}
	if !ok {
		return 1
	}
	return 0
}
