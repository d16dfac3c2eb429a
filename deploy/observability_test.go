package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var (
	// metricName finds foyer's metric names in PromQL and prose.
	metricName = regexp.MustCompile(`\bfoyer_[a-z0-9_]+\b`)
	// Where the gateway names its metrics: Name: "foyer_..." in the collector options and
	// prometheus.NewDesc("foyer_...", ...) in the room collector.
	declared  = regexp.MustCompile(`(?:Name:\s*|NewDesc\(\s*)"(foyer_[a-z0-9_]+)"`)
	histogram = regexp.MustCompile(`HistogramOpts\{\s*Name:\s*"(foyer_[a-z0-9_]+)"`)
	// runtimeMetric: the Go runtime and process collectors' series (go_goroutines,
	// process_open_fds), which the gateway registers (gateway/collector.go registerRuntime).
	runtimeMetric = regexp.MustCompile(`\b(go|process)_[a-z0-9_]+\b`)
)

// exportedMetrics reads the gateway's sources for the names of the metrics it exports, with the
// series names a histogram adds.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "gateway", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range declared.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		for _, m := range histogram.FindAllSubmatch(b, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[string(m[1])+suffix] = true
			}
		}
	}
	// The README's operations section promises these; if the sources stop matching the
	// patterns above, this fails instead of passing on an empty set.
	for _, must := range []string{"foyer_waiting", "foyer_admitted_total", "foyer_store_up", "foyer_joins_total",
		"foyer_backend_request_duration_seconds", "foyer_http_requests_total"} {
		if !names[must] {
			t.Fatalf("could not find %s among the gateway's metrics (found %v): update the patterns", must, mapKeys(names))
		}
	}
	return names
}

// checkNames reports every foyer_* name in text that the gateway does not export.
func checkNames(t *testing.T, where, text string, known map[string]bool) []string {
	t.Helper()
	var used []string
	for _, n := range metricName.FindAllString(text, -1) {
		if !known[n] {
			t.Errorf("%s uses %s, which the gateway does not export", where, n)
		}
		used = append(used, n)
	}
	return used
}

type grafanaPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr       string `json:"expr"`
		RefID      string `json:"refId"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	known := exportedMetrics(t)
	b, err := os.ReadFile(filepath.Join("grafana", "foyer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string         `json:"uid"`
		Title      string         `json:"title"`
		Panels     []grafanaPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("foyer.json is not JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	for _, v := range []string{"datasource", "job", "room"} {
		if !slices.Contains(vars, v) {
			t.Errorf("the dashboard needs the variable $%s (has %v)", v, vars)
		}
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: query %s must use the $datasource variable", p.Title, tg.RefID)
			}
			names := checkNames(t, "panel "+p.Title, tg.Expr, known)
			if len(names) == 0 && !strings.Contains(tg.Expr, "up{") && !runtimeMetric.MatchString(tg.Expr) {
				t.Errorf("panel %q: query %s uses no foyer metric: %s", p.Title, tg.RefID, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
			}
		}
	}
	// The panels the organisers look at during a sale.
	for _, n := range []string{"foyer_waiting", "foyer_admitted_total", "foyer_rate_per_minute", "foyer_active_sessions",
		"foyer_max_active", "foyer_store_up", "foyer_join_rate_limited_total", "foyer_backend_request_duration_seconds_bucket"} {
		if !used[n] {
			t.Errorf("the dashboard shows no %s", n)
		}
	}
}

func TestAlertRulesUseExportedMetrics(t *testing.T) {
	known := exportedMetrics(t)
	b, err := os.ReadFile(filepath.Join("prometheus", "foyer-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkNames(t, "alert "+r.Alert, r.Expr+" "+r.Annotations["description"], known)
			if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" {
				t.Errorf("alert %s: severity must be critical or warning, got %q", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s needs a summary and a description", r.Alert)
			}
			if r.For == "" {
				t.Errorf("alert %s needs a for: (no paging on one bad scrape)", r.Alert)
			}
		}
	}
	for _, want := range []string{"FoyerStoreDown", "FoyerAdmissionsStalled", "FoyerBackendSlow", "FoyerJoinRefusalsHigh", "FoyerNotReady"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("missing alert %s (have %v)", want, alerts)
		}
	}
	// Every alert has a promtool unit test.
	tb, err := os.ReadFile(filepath.Join("prometheus", "foyer-rules.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !strings.Contains(string(tb), "alertname: "+a+"\n") {
			t.Errorf("alert %s has no test in foyer-rules.test.yml", a)
		}
	}
}
