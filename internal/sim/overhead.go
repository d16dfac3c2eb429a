package sim

import (
	"bufio"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// overheadMeter samples the process while a run goes on.
type overheadMeter struct {
	cpu0     cpuTimes
	psi0     float64 // /proc/pressure/cpu "some" total, µs; -1 unknown
	wall0    time.Time
	stop_    chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	maxG     int
	peakHeap uint64
	late     []float64 // how late a 20 ms heartbeat woke, wall ms: the machine's CPU starvation
}

func startOverhead() *overheadMeter {
	m := &overheadMeter{cpu0: processCPU(), psi0: cpuPressure(), wall0: time.Now(), stop_: make(chan struct{})}
	m.sample()
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		const beat = 20 * time.Millisecond
		next := time.Now().Add(beat)
		for {
			select {
			case <-m.stop_:
				return
			case <-time.After(time.Until(next)):
			}
			late := float64(time.Since(next)) / float64(time.Millisecond)
			m.mu.Lock()
			m.late = append(m.late, late)
			m.mu.Unlock()
			next = next.Add(beat)
			if d := time.Since(next); d > 0 { // skip beats missed while starved
				next = next.Add(d.Truncate(beat) + beat)
			}
		}
	}()
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.sample()
			case <-m.stop_:
				return
			}
		}
	}()
	return m
}

func (m *overheadMeter) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := runtime.NumGoroutine()
	m.mu.Lock()
	m.maxG = max(m.maxG, g)
	m.peakHeap = max(m.peakHeap, ms.HeapInuse)
	m.mu.Unlock()
}

func (m *overheadMeter) stop(e *engine) Overhead {
	m.sample()
	close(m.stop_)
	m.wg.Wait()
	cpu := processCPU()
	o := Overhead{
		UserSeconds:   cpu.user - m.cpu0.user,
		SysSeconds:    cpu.sys - m.cpu0.sys,
		MaxGoroutines: m.maxG,
		PeakHeapMB:    float64(m.peakHeap) / (1 << 20),
	}
	o.CPUSeconds = o.UserSeconds + o.SysSeconds
	e.lagMu.Lock()
	lags := append([]float64(nil), e.lags...)
	o.Steps = int64(e.nLag)
	late := append([]float64(nil), e.late...)
	e.lagMu.Unlock()
	sort.Float64s(lags)
	o.LagP50Ms, o.LagP99Ms = Quantile(lags, 0.5), Quantile(lags, 0.99)
	sort.Float64s(late)
	o.SendLateP99Ms = Quantile(late, 0.99)
	o.CPUPressure = -1
	if p := cpuPressure(); p >= 0 && m.psi0 >= 0 {
		o.CPUPressure = (p - m.psi0) / float64(time.Since(m.wall0).Microseconds())
	}
	m.mu.Lock()
	sort.Float64s(m.late)
	o.StarvedP99Ms = Quantile(m.late, 0.99)
	m.mu.Unlock()
	return o
}

type cpuTimes struct{ user, sys float64 }

// cpuPressure is the machine's (or the container's) CPU pressure so far: the microseconds
// during which some runnable task waited for a CPU (Linux PSI, /proc/pressure/cpu "some
// total"); -1 where there is none.
func cpuPressure() float64 {
	f, err := os.Open("/proc/pressure/cpu")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "some ") {
			continue
		}
		for _, kv := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(kv, "total="); ok {
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					return n
				}
			}
		}
	}
	return -1
}
