package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foyerhq/foyer/queue"
)

// realisticSpec is the realistic crowd's room: everyone queued, a line that hardly moves (one
// admission a minute, a cap of 10), and a short absent_after while the crowd is prepared.
func realisticSpec(name string) roomSpec {
	return roomSpec{Name: name, RatePerMinute: 1, MaxActive: 10, Session: 10 * time.Minute,
		AbsentAfter: 3 * time.Second, Grace: 30 * time.Minute}
}

// realisticCrowd prepares the realistic crowd in room: n tickets whose first third were away
// long enough to be skipped (the poll load then brings them back: each is placed in the
// returning lane by its first poll), the rest present and waiting behind them. It runs an
// engine of this process as one more replica while the head passes the absent ones, then
// sets absent_after to 10 minutes so that nobody else is skipped while the load runs. The
// tickets come back in line order.
func realisticCrowd(ctx context.Context, eng *queue.Engine, room string, n int, stdout io.Writer) ([]string, error) {
	start := time.Now()
	ts, err := issueTickets(ctx, eng, room, n, nil)
	if err != nil {
		return nil, err
	}
	away := n / 3
	present := make([]queue.Ticket, 0, n-away)
	for _, raw := range ts[away:] {
		t, err := eng.DecodeTicket(room, raw)
		if err != nil {
			return nil, fmt.Errorf("realistic crowd: %w", err)
		}
		present = append(present, t)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan struct{})
	go func() { _ = eng.Run(runCtx); close(ran) }()
	deadline := time.Now().Add(2 * time.Minute)
	var st queue.Stats
	for {
		for _, t := range present { // seen polling: present
			if _, err := eng.Poll(ctx, t, queue.PollOptions{}); err != nil {
				return nil, fmt.Errorf("realistic crowd: poll: %w", err)
			}
		}
		if st, err = eng.Stats(ctx, room); err != nil {
			return nil, fmt.Errorf("realistic crowd: %w", err)
		}
		if st.Skipped >= int64(away) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("realistic crowd: only %d of the %d absent visitors were skipped in 2 minutes", st.Skipped, away)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	long := 10 * time.Minute
	if _, _, err := eng.UpdateSettings(ctx, room, queue.SettingsPatch{AbsentAfter: &long}, 0,
		func(before, after queue.Settings) []byte {
			return []byte(`{"actor":"foyer-load","reason":"realistic crowd ready"}`)
		}); err != nil {
		return nil, fmt.Errorf("realistic crowd: %w", err)
	}
	for _, t := range present { // seen once more, flushed by the engine's next liveness write
		_, _ = eng.Poll(ctx, t, queue.PollOptions{})
	}
	time.Sleep(1500 * time.Millisecond)
	cancel()
	<-ran
	fmt.Fprintf(stdout, "realistic crowd in room %s: %d tickets, %d skipped while away (they come back with the load), %d waiting behind (admitted %d, %s)\n",
		room, n, st.Skipped, len(present), st.Admitted, time.Since(start).Round(time.Millisecond))
	return ts, nil
}

// comeBack polls each of the returners once through the gateway at base, as a visitor back
// from an absence does: the first poll places it in the returning lane (one claim call to
// Redis); every later poll is answered from the gateway's memory. It returns how many answered
// "returning" and the first unexpected answer, if any.
func comeBack(ctx context.Context, base, prefix, room string, returners []string) (int, error) {
	var next, back atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(returners) || ctx.Err() != nil {
					return
				}
				code, body, err := getStatus(ctx, base, prefix, room, returners[i])
				var sb struct {
					Returning bool   `json:"returning"`
					Place     *int64 `json:"place"`
				}
				if err == nil {
					err = json.Unmarshal(body, &sb)
				}
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("status %d: %s", code, body)
				}
				if err != nil {
					once.Do(func() { first = err })
					continue
				}
				if sb.Returning && sb.Place != nil && *sb.Place > 0 {
					back.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(back.Load()), first
}
