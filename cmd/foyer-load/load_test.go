package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const infoBefore = "# Stats\r\ntotal_connections_received:10\r\ntotal_commands_processed:1000\r\n" +
	"total_reads_processed:400\r\n# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\n" +
	"# Commandstats\r\ncmdstat_info:calls=5,usec=10,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_evalsha:calls=10,usec=100,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n"

const infoAfter = "# Stats\r\ntotal_commands_processed:1120\r\ntotal_reads_processed:413\r\n# CPU\r\n" +
	"used_cpu_sys:1.750000\r\nused_cpu_user:2.500000\r\n# Commandstats\r\n" +
	"cmdstat_info:calls=6,usec=10,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_evalsha:calls=12,usec=100,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_setbit:calls=100,usec=100,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n"

func TestParseInfoAndDiff(t *testing.T) {
	a, b := parseInfo(infoBefore), parseInfo(infoAfter)
	if a.processed != 1000 || a.reads != 400 || a.cpu != 3750*time.Millisecond || a.calls["evalsha"] != 10 {
		t.Fatalf("parse: %+v", a)
	}
	d := diffInfo(a, b)
	// the first INFO is counted in the second reading, once in each counter
	if d.processed != 119 || d.reads != 12 {
		t.Errorf("processed %d reads %d, want 119 and 12", d.processed, d.reads)
	}
	if d.cpu != 500*time.Millisecond {
		t.Errorf("cpu %s", d.cpu)
	}
	if d.byCmd["setbit"] != 100 || d.byCmd["evalsha"] != 2 || d.byCmd["info"] != 0 {
		t.Errorf("by command %v", d.byCmd)
	}
	if got := d.top(1); got != "setbit=100" {
		t.Errorf("top %q", got)
	}
}

func TestParseWrkSummary(t *testing.T) {
	out := "Running 10s test @ http://127.0.0.1:1/\n  2 threads and 64 connections\n" +
		`FOYERLOAD {"requests":300000,"duration_us":10000000,"bytes":123600000,"errors_connect":0,"errors_read":1,` +
		`"errors_write":0,"errors_status":2,"errors_timeout":0,"p50_us":1800,"p90_us":3000,"p99_us":9000,"max_us":40000,"mean_us":2000.5}` + "\n"
	r, err := parseWrkSummary(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestsPerS != 30000 || r.ResponseBytes != 412 || r.errors() != 3 || r.P99US != 9000 {
		t.Errorf("%+v", r)
	}
	if _, err := parseWrkSummary("no summary here"); err == nil {
		t.Error("no error without a summary line")
	}
}

// TestScriptsRunInWrk runs the generated Lua in wrk against a test server: every ticket is
// sent in the Foyer-Ticket header, joins are POSTs without cookies, and the summary parses.
func TestScriptsRunInWrk(t *testing.T) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path+" "+r.Header.Get("Foyer-Ticket")+" "+r.Header.Get("Cookie")]++
		mu.Unlock()
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	tf := dir + "/tickets.txt"
	if err := writeLines(tf, []string{"AAA", "BBB", "CCC"}); err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"polls": pollScript("/s", tf), "joins": joinScript("/j")} {
		sp := dir + "/" + name + ".lua"
		if err := os.WriteFile(sp, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd := exec.Command(bin, "-t2", "-c2", "-d1s", "-s", sp, srv.URL+"/")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v: %s", name, err, out.String())
		}
		r, err := parseWrkSummary(out.String())
		if err != nil || r.Requests < 10 || r.errors() != 0 {
			t.Errorf("%s: %+v %v: %s", name, r, err, out.String())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"GET /s AAA ", "GET /s BBB ", "GET /s CCC ", "POST /j  "} {
		if seen[want] == 0 {
			t.Errorf("no %q request; saw %v", want, seen)
		}
	}
	if len(seen) != 4 {
		t.Errorf("unexpected requests: %v", seen)
	}
}

func TestPacePerMinuteAndVerdict(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	samples := func(perMinute float64) []paceSample {
		var s []paceSample
		for i := 0; i <= 180; i++ { // three minutes, one sample a second
			s = append(s, paceSample{at: start.Add(time.Duration(i) * time.Second), admitted: int64(float64(i) * perMinute / 60),
				waiting: 100, active: 10})
		}
		return s
	}
	pc := paceConfig{replicas: 3, rate: 600}
	for _, tt := range []struct {
		perMinute float64
		ok        bool
	}{{600, true}, {605, true}, {594.5, true}, {590, false}, {612, false}} {
		var out bytes.Buffer
		got := printPace(&out, pc, paceResult{samples: samples(tt.perMinute), maxActive: 20, capNow: 300})
		if got != tt.ok {
			t.Errorf("%.1f/min: ok %v, want %v\n%s", tt.perMinute, got, tt.ok, out.String())
		}
		if n := strings.Count(out.String(), "\n  1 ") + strings.Count(out.String(), "\n  2 ") + strings.Count(out.String(), "\n  3 "); n != 3 {
			t.Errorf("%.1f/min: %d minute rows\n%s", tt.perMinute, n, out.String())
		}
	}
	var out bytes.Buffer
	if printPace(&out, pc, paceResult{samples: samples(600), maxActive: 301, capNow: 300}) {
		t.Error("a sample above the cap passed")
	}
}

func TestPollBudgetsMet(t *testing.T) {
	run := func(foyer, nginx float64, reads int64) pollRun {
		return pollRun{by: map[string]measured{
			"foyer": {wrk: wrkResult{RequestsPerS: foyer, Requests: 1000}},
			"nginx": {wrk: wrkResult{RequestsPerS: nginx, Requests: 1000}},
		}, redis: infoDelta{reads: reads}}
	}
	for _, tt := range []struct {
		name string
		rs   []pollRun
		want bool
	}{
		{"both met", []pollRun{run(35000, 50000, 10)}, true},
		{"ratio of the bests", []pollRun{run(35000, 60000, 10), run(30000, 50000, 10)}, false},
		{"bests from different runs", []pollRun{run(40000, 60000, 10), run(20000, 50000, 10)}, false},
		{"too many round trips", []pollRun{run(40000, 50000, 60)}, false},
		{"fewest round trips counts", []pollRun{run(40000, 50000, 60), run(40000, 50000, 40)}, true},
	} {
		if got := pollBudgetsMet(tt.rs); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestProcCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	start := procCPU(os.Getpid())
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if got := procCPU(os.Getpid()) - start; got <= 0 {
		t.Errorf("300 ms of spinning measured as %s (%d)", got, x)
	}
	if procCPU(-1) != 0 {
		t.Error("a missing process has CPU time")
	}
}
