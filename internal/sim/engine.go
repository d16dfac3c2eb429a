package sim

import (
	"context"
	"sync"
	"time"
)

// task is something the engine runs at a wall time: a visitor's next step.
type task interface {
	// step runs at (or after) the due time and returns when to run next; ok false ends the task.
	step(ctx context.Context, now time.Time) (next time.Time, ok bool)
}

type event struct {
	at  time.Time
	seq uint64
	t   task
}

// engine runs tasks from one timer heap on a fixed pool of workers. It is safe for concurrent
// use: tasks schedule others from inside their steps.
type engine struct {
	mu   sync.Mutex
	heap []event
	seq  uint64
	kick chan struct{}
	work chan event

	lagMu sync.Mutex
	lags  []float64 // dispatch lag, wall milliseconds, sampled
	nLag  uint64
	// late is how late (wall ms, sampled) the dispatcher sent steps that became due while it
	// was free to send them: scheduled against actual send times, the simulator's own CPU
	// starvation, apart from waiting for a worker (the crowd's concurrency limit).
	late  []float64
	nLate uint64
}

func newEngine(workers int) *engine {
	return &engine{kick: make(chan struct{}, 1), work: make(chan event, workers)}
}

// schedule adds t to run at at.
func (e *engine) schedule(at time.Time, t task) {
	e.mu.Lock()
	e.seq++
	e.push(event{at: at, seq: e.seq, t: t})
	first := e.heap[0].seq == e.seq
	e.mu.Unlock()
	if first {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

// run dispatches due events to workers until ctx is done.
func (e *engine) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range e.work {
				now := time.Now()
				e.recordLag(now.Sub(ev.at))
				if next, ok := ev.t.step(ctx, now); ok && ctx.Err() == nil {
					e.schedule(next, ev.t)
				}
			}
		}()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer func() { close(e.work); wg.Wait() }()
	var freeFrom time.Time // the end of the dispatcher's last wait for a worker
	for {
		e.mu.Lock()
		var wait time.Duration = time.Hour
		var due *event
		if len(e.heap) > 0 {
			if d := time.Until(e.heap[0].at); d <= 0 {
				ev := e.pop()
				due = &ev
			} else {
				wait = d
			}
		}
		e.mu.Unlock()
		if due != nil {
			if due.at.After(freeFrom) {
				e.recordLate(time.Since(due.at))
			}
			select {
			case e.work <- *due:
			default: // every worker busy: the crowd's concurrency limit, not lateness
				select {
				case e.work <- *due:
				case <-ctx.Done():
					return
				}
				freeFrom = time.Now()
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-e.kick:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

func (e *engine) recordLate(d time.Duration) {
	e.lagMu.Lock()
	e.nLate++
	if len(e.late) < 200000 || e.nLate%16 == 0 {
		e.late = append(e.late, float64(d)/float64(time.Millisecond))
	}
	e.lagMu.Unlock()
}

func (e *engine) recordLag(d time.Duration) {
	e.lagMu.Lock()
	e.nLag++
	// Keep every lag up to 200k samples, then one in 16: plenty for a p99.
	if len(e.lags) < 200000 || e.nLag%16 == 0 {
		e.lags = append(e.lags, float64(d)/float64(time.Millisecond))
	}
	e.lagMu.Unlock()
}

// push and pop keep e.heap a binary min-heap on (at, seq). Caller holds mu.
func (e *engine) push(ev event) {
	e.heap = append(e.heap, ev)
	i := len(e.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !e.less(i, p) {
			break
		}
		e.heap[i], e.heap[p] = e.heap[p], e.heap[i]
		i = p
	}
}

func (e *engine) pop() event {
	h := e.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = event{}
	e.heap = h[:last]
	i, n := 0, last
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && e.less(r, l) {
			m = r
		}
		if !e.less(m, i) {
			break
		}
		e.heap[i], e.heap[m] = e.heap[m], e.heap[i]
		i = m
	}
	return top
}

func (e *engine) less(i, j int) bool {
	a, b := &e.heap[i], &e.heap[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}
