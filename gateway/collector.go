package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
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
)

func (rc *roomCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWaiting, descActive, descMax, descRate, descAdmitted, descSkipped, descReturned, descAdmRate, descStore} {
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
	}
}
