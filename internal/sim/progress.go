package sim

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// progress draws the run's progress bar until ctx is done; the returned channel closes after
// the last line.
func (r *runner) progress(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if r.opt.Progress == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		every := 200 * time.Millisecond
		if !r.opt.ProgressTTY {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.drawProgress(false)
			case <-ctx.Done():
				r.drawProgress(true)
				return
			}
		}
	}()
	return done
}

func (r *runner) drawProgress(last bool) {
	n := len(r.visitors)
	fin := r.count.finished.Load()
	frac := float64(fin) / float64(n)
	const width = 28
	full := int(frac * width)
	bar := strings.Repeat("█", full) + strings.Repeat("░", width-full)
	sale := r.clock.sale(time.Now())
	sign := "+"
	if sale < 0 {
		sign, sale = "-", -sale
	}
	line := fmt.Sprintf("%-24s %s %3.0f%%  T%s%02d:%02d  in %d  booked %d  errors %d",
		r.opt.Label, bar, frac*100, sign, int(sale)/60, int(sale)%60, r.count.gotIn.Load(),
		r.count.bookings.Load(), r.count.errs.Load())
	if r.opt.ProgressTTY {
		fmt.Fprintf(r.opt.Progress, "\r\x1b[K%s", line)
		if last {
			fmt.Fprintln(r.opt.Progress)
		}
		return
	}
	fmt.Fprintln(r.opt.Progress, line)
}
