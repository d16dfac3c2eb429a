package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue"
)

// TestConfigFixtures loads every testdata/config/*.good.yml (must validate) and *.bad.yml (must
// fail with every "# expect:" line found in the error text).
func TestConfigFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadConfig(f, nil)
			if strings.HasSuffix(f, ".good.yml") {
				if err != nil {
					t.Fatalf("good config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("bad config accepted")
			}
			raw, _ := os.ReadFile(f)
			n := 0
			for _, line := range strings.Split(string(raw), "\n") {
				want, ok := strings.CutPrefix(line, "# expect: ")
				if !ok {
					continue
				}
				n++
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q:\n%v", want, err)
				}
			}
			if n == 0 {
				t.Fatal("bad fixture has no '# expect:' line")
			}
		})
	}
}

// TestShippedConfigs loads every example in configs/: what we ship must validate.
func TestShippedConfigs(t *testing.T) {
	files, _ := filepath.Glob("../configs/*.yaml")
	if len(files) < 3 {
		t.Fatalf("expected the shipped example configs, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadConfig(f, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConfigEnvOverrides(t *testing.T) {
	env := map[string]string{
		"FOYER_LISTEN":      ":9999",
		"FOYER_REDIS_URL":   "redis://10.0.0.1:6380/2",
		"FOYER_ADMIN_TOKEN": "ci:0123456789abcdef0123",
	}
	cfg, err := LoadConfig("testdata/config/minimal.good.yml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":9999" || cfg.Redis.URL != "redis://10.0.0.1:6380/2" {
		t.Fatalf("env not applied: listen=%q redis=%q", cfg.Listen, cfg.Redis.URL)
	}
	if len(cfg.Admin.Tokens) != 1 || cfg.Admin.Tokens[0].Name != "ci" || cfg.Admin.Tokens[0].Token != "0123456789abcdef0123" {
		t.Fatalf("admin token from env: %+v", cfg.Admin.Tokens)
	}
	if cfg.PublicURL != "http://localhost:9999" {
		t.Fatalf("public url = %q", cfg.PublicURL)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/minimal.good.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Rooms[0]
	if r.Mode != "proxy" || r.WaitingStatus != 200 || r.TimeZone != "UTC" {
		t.Fatalf("room defaults: %+v", r)
	}
	// The room's rules take queue.Settings' defaults: one owner, one set of defaults.
	st := r.Settings(time.Now()).WithDefaults()
	d := queue.DefaultSettings()
	if st.Session != d.Session || st.MaxSession != d.MaxSession || st.AbsentAfter != d.AbsentAfter ||
		st.Grace != d.Grace || st.OnStoreError != d.OnStoreError || st.RatePerMinute != r.RatePerMinute {
		t.Fatalf("room settings %+v, want queue's defaults %+v", st, d)
	}
	if cfg.Prefix != "/foyer" || cfg.Redis.Timeout != 500*time.Millisecond {
		t.Fatalf("defaults: prefix=%q timeout=%s", cfg.Prefix, cfg.Redis.Timeout)
	}
}

func TestConfigErrorIsTyped(t *testing.T) {
	_, err := LoadConfig("testdata/config/many-problems.bad.yml", nil)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want *ConfigError, got %T %v", err, err)
	}
	if len(ce.Problems) < 7 { // the fixture has seven
		t.Fatalf("want every problem reported at once, got %d: %v", len(ce.Problems), ce.Problems)
	}
}
