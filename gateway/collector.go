package gateway

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/foyerhq/foyer/queue"
)

// roomCollector exports each room's figures from the gateway's newest history sample, so a
// scrape never waits on Redis.
type roomCollector struct{ s *Server }

var (
	descWaiting  = prometheus.NewDesc("foyer_waiting", "Visitors waiting in line.", []string{"room"}, nil)
	descActive   = prometheus.NewDesc("foyer_active_sessions", "Admitted sessions alive (leases).", []string{"room"}, nil)
	descMax      = prometheus.NewDesc("foyer_max_active", "The room's cap on active sessions.", []string{"room"}, nil)
	descRate     = prometheus.NewDesc("foyer_rate_per_minute", "The room's configured admission rate.", []string{"room"}, nil)
	descAdmitted = prometheus.NewDesc("foyer_admitted_total", "Visitors admitted since the room was created.", []string{"room"}, nil)
	descSkipped  = prometheus.NewDesc("foyer_skipped_total", "Absent visitors skipped when their turn came.", []string{"room"}, nil)
	descReturned = prometheus.NewDesc("foyer_returned_total", "Skipped visitors who came back within the grace period.", []string{"room"}, nil)
	descAdmRate  = prometheus.NewDesc("foyer_admitted_per_minute", "Measured admissions per minute.", []string{"room"}, nil)
	descStore    = prometheus.NewDesc("foyer_store_up", "1 when the gateway's last read of the room from Redis worked.", []string{"room"}, nil)
	descState    = prometheus.NewDesc("foyer_room_state", "1 for the state visitors see now (scheduled, prequeue, open, paused, closed, sold_out), 0 for the others.", []string{"room", "state"}, nil)
)

// roomStates are the values of foyer_room_state's state label: each room exports all of them,
// so a state that ends drops to 0 rather than vanishing.
var roomStates = []queue.State{queue.StateScheduled, queue.StatePrequeue, queue.StateOpen, queue.StatePaused, queue.StateClosed, queue.StateSoldOut}

// registerRuntime adds the Go runtime (goroutines, heap, GC) and process (CPU, memory, open
// files against their limit) collectors, unless the registry has them already.
func registerRuntime(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
		}
	}
}

func (rc *roomCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWaiting, descActive, descMax, descRate, descAdmitted, descSkipped, descReturned, descAdmRate, descStore, descState} {
		ch <- d
	}
}

func (rc *roomCollector) Collect(ch chan<- prometheus.Metric) {
	for name, rm := range rc.s.roomSet().rooms {
		smp, ok := rm.history.last()
		if !ok {
			continue
		}
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		g(descWaiting, float64(smp.Waiting))
		g(descActive, float64(smp.Active))
		g(descMax, float64(smp.MaxActive))
		g(descRate, float64(smp.RatePerMinute))
		g(descAdmRate, smp.AdmittedPerMinute)
		up := 0.0
		if smp.StoreOK {
			up = 1
		}
		g(descStore, up)
		ch <- prometheus.MustNewConstMetric(descAdmitted, prometheus.CounterValue, float64(smp.admitted), name)
		ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(smp.Skipped), name)
		ch <- prometheus.MustNewConstMetric(descReturned, prometheus.CounterValue, float64(smp.Returned), name)
		if v, ok := rc.s.engine.View(name); ok { // the engine's cache: no Redis
			for _, st := range roomStates {
				on := 0.0
				if v.State == st {
					on = 1
				}
				ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, on, name, string(st))
			}
		}
	}
}
