package sim

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/foyerhq/foyer/internal/boxoffice"
)

// smallCrowd is a festival of n visitors with a two-minute pre-queue and tail, played fast.
func smallCrowd(n int, speed float64) Scenario {
	sc := Festival(n)
	sc.Speed = speed
	sc.PrequeueWindow = 2 * time.Minute
	sc.TailMean, sc.TailMax = 30*time.Second, 2*time.Minute
	sc.ThinkMean = 5 * time.Second
	sc.Screenings = 20
	sc.MaxSaleTime = 30 * time.Minute
	return sc
}

// smallOffice is a box office of 4 workers that takes about 5 visitors a second (sale time:
// a visitor holds a worker for about 0.8 s). Its queue is short (32), so a rush is refused
// with 503s at once; its timeout is ten minutes of sale time (10 s of wall time at speed 60),
// so a busy test machine cannot pass for an overloaded backend.
func smallOffice(t *testing.T, speed float64) (*boxoffice.Office, *httptest.Server) {
	t.Helper()
	return smallOfficeQueue(t, speed, 32)
}

// smallOfficeQueue is smallOffice with room for maxQueue requests waiting for a worker.
func smallOfficeQueue(t *testing.T, speed float64, maxQueue int) (*boxoffice.Office, *httptest.Server) {
	t.Helper()
	cfg := boxoffice.DefaultConfig()
	cfg.Workers, cfg.MaxQueue = 4, maxQueue
	cfg.StepBase, cfg.StepPerInflight, cfg.PaymentTime = 100*time.Millisecond, 4*time.Millisecond, 300*time.Millisecond
	cfg.Timeout, cfg.Speed = 10*time.Minute, speed
	cfg.Screenings, cfg.Seats = 20, 1000
	cfg.AllowReset = true
	o, err := boxoffice.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(srv.Close)
	return o, srv
}

func checkAccounted(t *testing.T, res *Result) {
	t.Helper()
	total := 0
	for _, n := range res.Outcomes {
		total += n
	}
	if total != res.Visitors {
		t.Fatalf("outcomes %v add up to %d, want %d", res.Outcomes, total, res.Visitors)
	}
	if res.Outcomes["unfinished"] != 0 {
		t.Fatalf("%d visitors unfinished: %v", res.Outcomes["unfinished"], res.Outcomes)
	}
}

func TestStraightAtTheBackendOverloadsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a crowd for seconds; not in -short")
	}
	const speed = 60
	_, srv := smallOffice(t, speed)
	res, err := Run(context.Background(), smallCrowd(600, speed), Target{Mode: Direct, URL: srv.URL}, Options{Label: "direct", Workers: 256})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	t.Logf("outcomes %v errors %v wait %+v backend peak %d", res.Outcomes, res.Errors, res.Wait, res.Backend.PeakConcurrency)
	if res.Backend.PeakConcurrency <= res.Backend.Capacity.Workers || res.Errors["503"] == 0 {
		t.Fatalf("a 600-visitor rush at a 4-worker office: peak %d, 503s %d; want overload",
			res.Backend.PeakConcurrency, res.Errors["503"])
	}
	if int64(res.Outcomes["booked"]) != res.Backend.Bookings-res.Backend.ChargedNotBooked*0 && res.Backend.Bookings < int64(res.Outcomes["booked"]) {
		t.Fatalf("visitors booked %d, backend bookings %d", res.Outcomes["booked"], res.Backend.Bookings)
	}
	if res.Fairness.LateN == 0 || res.Fairness.LatePairs == 0 {
		t.Fatalf("fairness not measured: %+v", res.Fairness)
	}
}

func TestPacedCrowdStaysWithinCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a crowd for seconds; not in -short")
	}
	const speed = 60
	_, srv := smallOffice(t, speed)
	sc := smallCrowd(600, speed)
	// 120 a minute, under half of what the office can take.
	res, err := Run(context.Background(), sc, Target{Mode: Paced, URL: srv.URL, ResetBackend: true,
		RatePerMinute: 120, MaxActive: 20}, Options{Label: "paced", Workers: 256})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	b := res.Backend
	t.Logf("outcomes %v errors %v wait %+v fairness %+v backend peak %d", res.Outcomes, res.Errors, res.Wait, res.Fairness, b.PeakConcurrency)
	if res.ErrorsTotal != 0 || b.ChargedNotBooked != 0 || b.TimedOut != 0 {
		t.Fatalf("errors %v, charged_not_booked %d, timed out %d: want none", res.Errors, b.ChargedNotBooked, b.TimedOut)
	}
	if res.Outcomes["booked"]+res.Outcomes["abandoned"]+res.Outcomes["sold_out"] != res.Visitors {
		t.Fatalf("outcomes %v", res.Outcomes)
	}
	// 600 visitors at 120 a minute: the last gets in about five minutes after the opening
	// (later if the machine is so busy that the simulator lags).
	if res.Wait.Max < 200 || res.Wait.Max > 700 {
		t.Fatalf("longest wait %.0f s, want about 300", res.Wait.Max)
	}
	if f := res.Fairness; f.LateCertain > 0.01 || f.PreN < 100 || f.PreSpearman > 0.25 || f.PreSpearman < -0.25 {
		t.Fatalf("fairness %+v: want late arrivals in order and the pre-queue shuffled", f)
	}
	if len(res.Series) == 0 || res.Series[len(res.Series)-1].Waiting != 0 {
		t.Fatalf("series ends with a line: %+v", res.Series[len(res.Series)-1])
	}
}

func TestThroughAFakeFoyer(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a crowd for seconds; not in -short")
	}
	const speed = 60
	// Room for every visitor's request to wait: this test is about the simulator's plumbing
	// through foyer, and a machine slowed by -race or a busy core must not turn a paced crowd
	// into an overloaded office (TestStraightAtTheBackendOverloadsIt is the overload test).
	_, backend := smallOfficeQueue(t, speed, 1024)
	sc := smallCrowd(240, speed)
	sc.SecondTabShare, sc.AwayShare = 0.3, 0.2
	ff := newFakeFoyer(t, "fest", backend.URL, 120.0/60*speed)
	foyer := httptest.NewServer(ff)
	t.Cleanup(foyer.Close)
	res, err := Run(context.Background(), sc, Target{Mode: Foyer, URL: foyer.URL, Room: "fest", BackendURL: backend.URL,
		ResetBackend: true, Prepare: func(_ context.Context, opening time.Time) error {
			ff.setOpening(opening)
			return nil
		}}, Options{Label: "fake foyer", Workers: 128})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	t.Logf("outcomes %v requests %v errors %v wait %+v fairness %+v tabs %d away %d",
		res.Outcomes, res.Requests, res.Errors, res.Wait, res.Fairness, res.SecondTabs, res.StepsAway)
	if res.ErrorsTotal != 0 || res.Backend.ChargedNotBooked != 0 {
		t.Fatalf("errors %v charged_not_booked %d", res.Errors, res.Backend.ChargedNotBooked)
	}
	if res.Requests["join"] != int64(res.Visitors) || res.Requests["poll"] < int64(res.Visitors) {
		t.Fatalf("requests %v: want one join each and polling", res.Requests)
	}
	if res.Outcomes["booked"] < res.Visitors*3/4 || res.GotIn < res.Outcomes["booked"] {
		t.Fatalf("outcomes %v, got in %d", res.Outcomes, res.GotIn)
	}
	if res.SecondTabs == 0 || res.StepsAway == 0 {
		t.Fatalf("no second tabs (%d) or steps away (%d)", res.SecondTabs, res.StepsAway)
	}
	// The fake admits strictly in line order; what the polls can see must agree.
	if f := res.Fairness; f.LateCertain > 0.01 || f.PreN == 0 || f.PreSpearman > 0.3 || f.PreSpearman < -0.3 {
		t.Fatalf("fairness %+v", f)
	}
}
